"""Test factories of the transports that are not stores: RabbitMQ, NATS JetStream and
``file://``, for the conformance suite (``TRANSPORTS`` in ``tests.stores``).

A bus gets a ``?prefix=`` of its own (see ``tests.bus``), deleted afterwards; ``file://``
a fresh, empty file in a temporary folder, followed (``?follow=1``: a worker waits for
lines instead of stopping at the end of its input, as a store's worker does).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class BusFactory:
    name: str

    def unavailable(self) -> str | None:
        from tests.bus import unavailable

        return unavailable(self.name)

    def create(self, tag: str) -> str:
        from tests.bus import bus_url

        return bus_url(self.name, tag)

    def drop(self, url: str) -> None:
        from tests.bus import drop

        drop(self.name, url)


class FileFactory:
    name = "file"

    def unavailable(self) -> str | None:
        return None

    def create(self, tag: str) -> str:
        folder = tempfile.mkdtemp(prefix=f"tb-{tag[:40]}-")
        open(f"{folder}/tasks.jsonl", "wb").close()  # a worker needs its input to exist
        return f"file://{folder}/tasks.jsonl?follow=1"  # workers wait for more lines

    def drop(self, url: str) -> None:
        folder = urlsplit(url).path.rsplit("/", 1)[0]
        if folder.startswith(tempfile.gettempdir()):
            shutil.rmtree(folder, ignore_errors=True)
