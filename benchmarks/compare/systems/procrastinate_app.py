"""procrastinate under `make compare`: a psycopg 3 connector, one task per shared job."""

from __future__ import annotations

import asyncio
import importlib.metadata
from typing import Any

import procrastinate

from benchmarks.compare.jobs import handlers
from benchmarks.compare.places import PG_URL

app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=PG_URL))


def _task(name: str, function: Any) -> Any:
    async def run(value: Any = 0) -> None:
        await function(value)

    run.__name__ = run.__qualname__ = name
    return app.task(name=name, queue="compare")(run)


TASKS = {name: _task(name, function) for name, function in handlers("async").items()}


def version() -> str:
    return importlib.metadata.version("procrastinate")


def setup() -> None:
    async def apply() -> None:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()

    asyncio.run(apply())


class Producer:
    async def one(self, job: str, value: Any) -> None:
        await TASKS[job].defer_async(value=value)

    async def many(self, job: str, values: list[Any]) -> None:
        await TASKS[job].batch_defer_async(*({"value": v} for v in values))

    async def close(self) -> None:
        await app.close_async()


async def producer() -> Producer:
    await app.open_async()
    return Producer()
