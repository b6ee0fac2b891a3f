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


class RedisFinishListener:
    """Subscribed to the store's ``finished`` channel on its own ``client``: wakes those
    waiting for results when a batch of outcomes ended tasks. While Redis is down ``wait``
    returns True after a pause (a message may have been missed: the waiter re-reads)."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self._client = client
        self._channel = channel
        self._pubsub: Any = None
        self._closed = threading.Event()

    def wait(self, timeout: float) -> bool:
        if self._closed.is_set():
            return False
        try:
            if self._pubsub is None:
                self._pubsub = self._client.pubsub(  # type: ignore[no-untyped-call]
                    ignore_subscribe_messages=True)
                self._pubsub.subscribe(self._channel)
                return True  # just subscribed: a finish may have come before
            message = self._next_message(max(0.0, min(timeout, LISTEN_SLICE)))
        except redis.exceptions.RedisError:
            self._drop()
            self._closed.wait(min(max(timeout, 0.0), LISTEN_SLICE))
            return True
        woken = message is not None
        while message is not None:  # take every queued message: one wake-up for all
            message = self._pubsub.get_message(timeout=0.0)
        return woken

    def _next_message(self, timeout: float) -> Any:
        """The next message within ``timeout`` seconds, or None (``get_message`` gives None
        for a subscribe confirmation too: it is read past, not taken for a timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if message is not None or time.monotonic() >= deadline:
                return message

    def _drop(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                self._pubsub.close()
            self._pubsub = None

    def close(self) -> None:
        self._closed.set()
        self._drop()
        with contextlib.suppress(redis.exceptions.RedisError):
            self._client.connection_pool.disconnect(inuse_connections=False)


__all__ = ["LISTEN_SLICE", "RedisFinishListener", "RedisListener"]
