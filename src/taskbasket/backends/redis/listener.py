"""The Redis store's wake-up listener: idle workers block on the wake-up lists that the
scripts push a token to when work becomes ready."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from typing import Any, cast

import redis
import redis.exceptions

from taskbasket.backends.redis.records import text

LISTEN_SLICE = 1.0
"""A listener re-checks its closed flag at least this often (seconds)."""


class RedisListener:
    """Blocks on the wake-up lists ``keys`` with ``BLPOP`` on its own ``client``.

    One token wakes one idle worker. ``close`` pushes (with ``sender``, the store's client)
    to ``close_key``, a list only this listener reads, so a concurrent ``wait`` returns at
    once; while Redis is down ``wait`` just sleeps.
    """

    def __init__(
        self, client: redis.Redis, sender: redis.Redis, keys: list[str], close_key: str
    ) -> None:
        self._sender = sender
        self._close_key = close_key
        self._keys = [*keys, close_key]
        self._client = client
        self._closed = threading.Event()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        try:
            while not self._closed.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                try:
                    popped = self._client.blpop(
                        self._keys, timeout=max(0.001, min(remaining, LISTEN_SLICE))
                    )
                except redis.exceptions.RedisError:
                    self._closed.wait(min(max(remaining, 0.0), LISTEN_SLICE))
                    continue
                if popped is None:
                    continue
                key = text(cast(Sequence[Any], popped)[0])
                return key != self._close_key
            return False
        finally:
            if self._closed.is_set():
                self._client.close()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(redis.exceptions.RedisError):
            pipe = self._sender.pipeline(transaction=False)
            pipe.lpush(self._close_key, "1")
            pipe.pexpire(self._close_key, 60_000)
            pipe.execute()
        with contextlib.suppress(redis.exceptions.RedisError):
            self._client.connection_pool.disconnect(inuse_connections=False)


__all__ = ["LISTEN_SLICE", "RedisListener"]
