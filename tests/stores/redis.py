"""Redis test stores: a unique key prefix per test in one server.

The server is ``$TASKBASKET_TEST_REDIS_URL`` or ``redis://127.0.0.1:6379/0``; ``drop``
deletes the prefix's keys with SCAN (fine in tests, never done by the backend itself).
"""

from __future__ import annotations

import contextlib
import functools
import os
from urllib.parse import parse_qs, urlsplit

BASE_URL = os.environ.get("TASKBASKET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@functools.cache
def _probe() -> str | None:
    try:
        import redis
    except ImportError:
        return "redis-py is not installed (pip install 'taskbasket[redis]')"
    try:
        client = redis.Redis.from_url(BASE_URL, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        return f"no Redis server at {BASE_URL} ({exc})"
    return None


def delete_prefix(base_url: str, prefix: str) -> int:
    """Delete every key under ``prefix:``; returns how many."""
    import redis

    client = redis.Redis.from_url(base_url, socket_connect_timeout=2, socket_timeout=10)
    deleted = 0
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += client.unlink(*batch)
                batch.clear()
        if batch:
            deleted += client.unlink(*batch)
    finally:
        client.close()
    return deleted


class RedisFactory:
    name = "redis"

    def unavailable(self) -> str | None:
        return _probe()

    def create(self, tag: str) -> str:
        joiner = "&" if "?" in BASE_URL else "?"
        return f"{BASE_URL}{joiner}prefix=tb_{tag}"

    def drop(self, url: str) -> None:
        prefix = parse_qs(urlsplit(url).query).get("prefix", [""])[0]
        if not prefix.startswith("tb_"):
            return  # never touch keys this factory did not make
        # the server may be down after a restart test; its keys died with it
        with contextlib.suppress(Exception):
            delete_prefix(BASE_URL, prefix)

    def kill_connections(self, url: str) -> int:
        """CLIENT KILL every other normal client (the workers'), for chaos. No server
        restart here: the test server keeps nothing on disk, so a restart would empty it."""
        import redis

        client = redis.Redis.from_url(BASE_URL, socket_connect_timeout=2, socket_timeout=5)
        try:
            killed: int = client.execute_command("CLIENT KILL TYPE normal SKIPME yes")
        finally:
            client.close()
        return killed


FACTORY = RedisFactory()
