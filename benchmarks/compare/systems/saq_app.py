"""saq under `make compare`: a Redis or PostgreSQL queue, one function per shared job."""

from __future__ import annotations

import asyncio
import importlib.metadata
from typing import Any

from saq import Queue

from benchmarks.compare.jobs import handlers
from benchmarks.compare.places import PG_URL, REDIS_URL, STORE
from benchmarks.compare.systems import SLOTS

queue = Queue.from_url(PG_URL if STORE == "postgres" else REDIS_URL, name="compare")


def _function(name: str, function: Any) -> tuple[str, Any]:
    async def run(ctx: Any, *, value: Any = 0) -> None:
        await function(value)

    return name, run


settings = {
    "queue": queue,
    "functions": [_function(name, f) for name, f in handlers("async").items()],
    "concurrency": SLOTS,
    "dequeue_timeout": 1.0,
}


def version() -> str:
    return importlib.metadata.version("saq")


def setup() -> None:
    async def connect() -> None:
        await queue.connect()  # PostgresQueue makes its tables here
        await queue.disconnect()

    asyncio.run(connect())


class Producer:
    async def one(self, job: str, value: Any) -> None:
        await queue.enqueue(job, value=value)

    many = None  # saq has no batch enqueue

    async def close(self) -> None:
        await queue.disconnect()


async def producer() -> Producer:
    await queue.connect()
    return Producer()
