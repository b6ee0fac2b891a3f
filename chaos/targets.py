"""What a chaos round runs against: a store on the machine's shared server (workers
killed, the round's own connections cut) or on a private server of its own, which it
also crashes and restarts. The shared servers are never restarted, and their other
clients never cut: a cut names the round's database, key prefix or connection name.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.servers import TOOLS, PrivateServer, missing_tools, private_server
from tests.stores import factory

BUSES = ("amqp", "nats")


def _with_option(url: str, option: str) -> str:
    return f"{url}{'&' if urlsplit(url).query else '?'}{option}"


def named(store: str, url: str, tag: str) -> str:
    """``url`` with its connections named after the round (``client_name`` on Redis,
    ``application_name`` on PostgreSQL), so that cutting them cuts nobody else's."""
    query = urlsplit(url).query
    if store == "redis" and "client_name=" not in query:
        return _with_option(url, f"client_name=tb_{tag}")
    if store.startswith("postgres") and "application_name=" not in query:
        return _with_option(url, f"application_name=tb_{tag}")
    return url


@dataclass
class Target:
    store: str
    label: str
    url: str
    server: PrivateServer | None = None
    folder: Path | None = None
    dropper: Any = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return "private" if self.server is not None else "shared"

    @property
    def is_bus(self) -> bool:
        return self.store in BUSES

    def can_cut(self) -> bool:
        return hasattr(factory(self.store), "kill_connections") and not self.is_bus

    def cut_connections(self) -> int:
        killed: int = factory(self.store).kill_connections(self.url)  # type: ignore[attr-defined]
        return killed

    def can_restart(self) -> bool:
        return self.server is not None

    def restart(self, crash: bool) -> float:
        """Crash (SIGKILL) or stop the private server and start it again; the downtime."""
        assert self.server is not None
        if self.store == "redis":
            info = self.server.info()  # type: ignore[attr-defined]
            self.notes["aof_delayed_fsync_before_crash"] = info.get("aof_delayed_fsync")
            self.notes["aof_pending_bio_fsync_at_crash"] = info.get("aof_pending_bio_fsync")
        return self.server.restart(crash=crash)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        if self.dropper is not None:
            with contextlib.suppress(Exception):
                self.dropper()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def open_target(store: str, tag: str, workdir: Path, *, private: bool,
                redis_fsync: str = "always", url: str | None = None) -> Target:
    """The round's store: ``url`` as given, else a new store, on a private server if
    ``private`` (and one exists for ``store``), else on the shared server."""
    if url is not None:
        return Target(store, store, named(store, url, tag))
    if private:
        missing = missing_tools(*TOOLS.get(store, ()))
        if missing:
            raise RuntimeError(f"a private {store} server needs {', '.join(missing)}")
        folder = workdir / f"{store}-server"
        options = {"appendfsync": redis_fsync} if store == "redis" else {}
        server = private_server(store, folder, **options)
        if server is not None:
            server.start()
            label = f"{store} (aof {redis_fsync})" if store == "redis" else store
            target = Target(store, label, server.store_url(tag), server, folder)
            if store == "redis":
                target.notes["appendfsync"] = redis_fsync
            return target
    if store in BUSES:
        from tests.bus import bus_url, drop

        made = bus_url(store, tag)
        return Target(store, store, made, dropper=lambda: drop(store, made))
    made = factory(store).create(tag)
    return Target(store, store, named(store, made, tag),
                  dropper=lambda: factory(store).drop(made))


def can_be_private(store: str) -> bool:
    """Whether tests/servers has a private server for ``store`` (so it can restart)."""
    return store in TOOLS
