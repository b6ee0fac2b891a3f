"""A private Redis server, optionally with an append-only file (AOF) for persistence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.servers import PrivateServer


class PrivateRedis(PrivateServer):
    """``redis-server`` on a free port with its files in ``folder``.

    ``appendfsync`` None runs it without persistence (a restart empties it); ``"always"``
    or ``"everysec"`` turn on the AOF with that fsync policy (no RDB snapshots either way,
    so the AOF alone decides what a restart keeps).
    """

    name = "redis"
    start_timeout = 30.0

    def __init__(self, folder: Path, appendfsync: str | None = "always") -> None:
        super().__init__(folder)
        if appendfsync not in (None, "always", "everysec", "no"):
            raise ValueError(f"appendfsync must be always, everysec or no, not {appendfsync!r}")
        self.appendfsync = appendfsync
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        persistence = (["--appendonly", "no"] if self.appendfsync is None else
                       ["--appendonly", "yes", "--appendfsync", self.appendfsync])
        return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", *persistence, "--daemonize", "no", "--dir", str(self.folder),
                "--logfile", "", "--loglevel", "warning"]

    def ready(self) -> bool:
        """Accepting commands: a server still loading its AOF answers LOADING."""
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=2)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def store_url(self, tag: str) -> str:
        """A key prefix of its own; connections named after it, so that a test (or the
        chaos harness) can cut exactly these connections."""
        return f"{self.url}?prefix=tb_{tag}&client_name=tb_{tag}"

    def info(self, section: str = "persistence") -> dict[str, Any]:
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=2, socket_timeout=5)
        try:
            found: dict[str, Any] = client.info(section)
            return found
        finally:
            client.close()
