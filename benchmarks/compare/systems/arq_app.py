"""arq under `make compare`: one function per shared job; ``WorkerSettings`` for `arq`."""

from __future__ import annotations

import importlib.metadata
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import func

from benchmarks.compare.jobs import handlers
from benchmarks.compare.places import REDIS_URL
from benchmarks.compare.systems import SLOTS


def _function(name: str, function: Any) -> Any:
    async def run(ctx: Any, value: Any = 0) -> None:
        await function(value)

    return func(run, name=name)


class WorkerSettings:
    functions = [_function(name, f) for name, f in handlers("async").items()]
    redis_settings = RedisSettings.from_dsn(REDIS_URL)
    max_jobs = SLOTS
    poll_delay = 0.01
    keep_result = 0


def version() -> str:
    return importlib.metadata.version("arq")


def setup() -> None:
    return None


class Producer:
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def one(self, job: str, value: Any) -> None:
        await self.pool.enqueue_job(job, value)

    many = None  # arq enqueues one job at a time

    async def close(self) -> None:
        await self.pool.aclose()


async def producer() -> Producer:
    return Producer(await create_pool(RedisSettings.from_dsn(REDIS_URL)))


def serve() -> None:
    """What the `arq` command runs (``run_worker``), with arq's line per job silenced as
    the other systems' are (the command sets INFO logging after importing the settings)."""
    import logging

    from arq.worker import run_worker

    logging.basicConfig(level=logging.WARNING)
    run_worker(WorkerSettings)  # type: ignore[arg-type]


if __name__ == "__main__":
    serve()
