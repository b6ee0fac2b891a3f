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
        """CLIENT KILL this store's connections (the workers'), for chaos: those named by
        the URL's ``client_name``, on the URL's own server; other clients are left alone.
        (A restart is for a private server: see tests/servers/redis.py.)"""
        import redis

        query = parse_qs(urlsplit(url).query)
        name = query.get("client_name", [""])[0]
        if not name.startswith("tb_"):
            raise ValueError("refusing to cut connections of a URL that sets no "
                             "client_name=tb_...: that would cut every client of the server")
        server = urlsplit(url)._replace(query="").geturl()
        client = redis.Redis.from_url(server, socket_connect_timeout=2, socket_timeout=5)
        killed = 0
        try:
            for info in client.client_list():
                if info.get("name") == name:
                    with contextlib.suppress(redis.RedisError):  # gone meanwhile
                        killed += client.client_kill_filter(_id=info["id"])
        finally:
            client.close()
        return killed


FACTORY = RedisFactory()
