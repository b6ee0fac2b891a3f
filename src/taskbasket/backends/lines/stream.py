"""StreamBackend: the ``stdin://`` transport (alias ``stdout://``) over standard streams.

A worker reads standard input, one line per free slot, and ends at EOF; producers write
standard output. A line cannot be read twice: a graceful stop writes what was read and not
finished to the dead-letter file.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
from collections.abc import Sequence
from urllib.parse import urlsplit

from taskbasket.backends.base import TaskFilter
from taskbasket.backends.bus.base import unsupported
from taskbasket.backends.bus.message import TaskMessage
from taskbasket.backends.lines.backend import LineBackend, url_options
from taskbasket.backends.lines.dead_letters import DEFAULT_DEAD
from taskbasket.backends.lines.format import write_all
from taskbasket.errors import ConfigurationError


class StreamBackend(LineBackend):
    """``stdin://[?dead=PATH]`` (alias ``stdout://``): a worker reads standard input and
    ends at EOF; producers write standard output. ``input_fd``/``output_fd`` replace 0/1."""

    transport_name = "the stdin:// transport"
    keeps_leftovers = False

    def __init__(self, url: str, *, input_fd: int = 0, output_fd: int = 1) -> None:
        parts = urlsplit(url)
        if parts.netloc or parts.path:
            raise ConfigurationError(f"{url!r}: {parts.scheme}:// takes no path, only "
                                     "?dead=/path/to/dead.jsonl")
        super().__init__(url, url_options(url, {"dead"}).get("dead") or DEFAULT_DEAD)
        self.input_fd, self.output_fd = input_fd, output_fd
        self.writes_stdout = output_fd == 1
        """Standard output carries the tasks, so the CLI prints nothing else there."""
        self._buffer = bytearray()
        self._eof = False
        self._write_lock = threading.Lock()

    def _open(self) -> None:
        given = os.fstat(self.input_fd)
        with contextlib.suppress(FileNotFoundError):
            dead = os.stat(self.dead_path)
            if (dead.st_dev, dead.st_ino) == (given.st_dev, given.st_ino):
                raise ConfigurationError(
                    f"standard input is the dead-letter file {self.dead_path}: its own "
                    "failures would be read again forever; move it first (mv it retry.jsonl)")

    def _readable(self, seconds: float) -> bool:
        return bool(select.select([self.input_fd], [], [], seconds)[0])

    def _take(self, limit: int) -> list[tuple[int, bytes]]:
        """Lines from a buffer refilled (one read of what is available) only when needed."""
        lines: list[tuple[int, bytes]] = []
        while len(lines) < limit:
            end = self._buffer.find(b"\n") + 1
            if not end and not self._eof and self._readable(0):
                chunk = os.read(self.input_fd, 65536)
                self._buffer += chunk
                self._eof = not chunk
                continue
            if not end and not (self._eof and self._buffer):
                break
            end = end or len(self._buffer)  # the last line may have no newline
            line = bytes(self._buffer[:end])
            del self._buffer[:end]
            self.position += 1
            if line.strip():
                lines.append((self.position, line))
        return lines

    def _input_ready(self) -> bool:
        return b"\n" in self._buffer or (self._eof and bool(self._buffer)) or (
            not self._eof and self._readable(0))

    def _exhausted(self) -> bool:
        return self._eof and not self._buffer

    def _where(self, key: int) -> str:
        return f"line {key} of standard input"

    def _idle(self, seconds: float, closed: threading.Event) -> None:
        if self._eof:
            closed.wait(seconds)
        else:
            self._readable(seconds)

    def _drain(self) -> list[tuple[int, bytes]]:
        lines = bytes(self._buffer).splitlines(keepends=True)
        self._buffer.clear()
        return [(self.position + n, line) for n, line in enumerate(lines, 1) if line.strip()]

    def _write(self, messages: Sequence[TaskMessage]) -> None:
        with self._write_lock:
            if self.writes_stdout and sys.stdout is not None:
                sys.stdout.flush()
            write_all(self.output_fd, b"".join(m.encode() + b"\n" for m in messages))

    def tasks_retry(self, task_filter: TaskFilter) -> int:
        raise unsupported(self.transport_name, "requeue dead letters: it cannot write to its "
                          "own standard input", f"Feed them back instead: mv {self.dead_path} "
                          "retry.jsonl; taskbasket worker APP --url stdin:// < retry.jsonl.")
