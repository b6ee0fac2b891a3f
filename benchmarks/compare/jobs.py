"""The one job every system runs, in a sync and an async form.

``noop`` does nothing but count itself done; ``incr`` does one Redis ``INCR`` round trip
(the count comes back with it); ``pickup`` takes the enqueue time as its argument and
pushes the delay until its start onto a Redis list that the harness reads. Each system's
app wraps these in its own task or actor; the marks for the drain clock come from
benchmarks/marks.py.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from benchmarks.compare.places import REDIS_URL
from benchmarks.marks import PROGRESS


def run_keys(run: str) -> tuple[str, str]:
    """The count and pickup keys of run ``run``: each run's keys apart from any other's."""
    return f"compare:{run}:count", f"compare:{run}:pickup"


COUNT_KEY, PICKUP_KEY = run_keys(os.environ.get("COMPARE_RUN", "0"))
JOBS = ("noop", "incr", "pickup")

_sync_client: Any = None
_async_clients: dict[int, Any] = {}


def sync_redis() -> Any:
    """One thread-safe client (a connection pool) for the whole process."""
    global _sync_client
    if _sync_client is None:
        import redis

        _sync_client = redis.Redis.from_url(REDIS_URL)
    return _sync_client


def async_redis() -> Any:
    """A client for the running event loop (an asyncio client is bound to its loop)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(id(loop))
    if client is None:
        import redis.asyncio

        client = _async_clients[id(loop)] = redis.asyncio.Redis.from_url(REDIS_URL)
    return client


def noop(n: int = 0) -> None:
    PROGRESS.tick()


def incr(n: int = 0) -> None:
    PROGRESS.reached(sync_redis().incr(COUNT_KEY))


def pickup(enqueued_at: float = 0.0) -> None:
    delay = time.time() - enqueued_at
    sync_redis().rpush(PICKUP_KEY, repr(delay))


async def noop_async(n: int = 0) -> None:
    PROGRESS.tick()


async def incr_async(n: int = 0) -> None:
    PROGRESS.reached(await async_redis().incr(COUNT_KEY))


async def pickup_async(enqueued_at: float = 0.0) -> None:
    delay = time.time() - enqueued_at
    await async_redis().rpush(PICKUP_KEY, repr(delay))


SYNC = {"noop": noop, "incr": incr, "pickup": pickup}
ASYNC = {"noop": noop_async, "incr": incr_async, "pickup": pickup_async}


def handlers(kind: str) -> dict[str, Any]:
    """The three jobs as ``kind`` ("sync" or "async") functions, by name."""
    if kind not in ("sync", "async"):
        raise ValueError(f"handler kind {kind!r}: choose 'sync' or 'async'")
    return SYNC if kind == "sync" else ASYNC
