"""pgqueuer under `make compare`: asyncpg, one entrypoint per shared job."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job
from pgqueuer.queries import Queries

from benchmarks.compare.jobs import handlers
from benchmarks.compare.places import PG_URL


def _entrypoint(pgq: PgQueuer, name: str, function: Any) -> None:
    @pgq.entrypoint(name)
    async def run(job: Job) -> None:
        await function(json.loads(job.payload or b"0"))


@asynccontextmanager
async def main() -> AsyncIterator[PgQueuer]:
    """The factory `pgq run` (and ``pgqueuer.run``) enters."""
    connection = await asyncpg.connect(PG_URL)
    try:
        pgq = PgQueuer(AsyncpgDriver(connection))
        for name, function in handlers("async").items():
            _entrypoint(pgq, name, function)
        yield pgq
    finally:
        await connection.close()


def version() -> str:
    return importlib.metadata.version("pgqueuer")


def setup() -> None:
    async def install() -> None:
        connection = await asyncpg.connect(PG_URL)
        try:
            await Queries(AsyncpgDriver(connection)).install()
        finally:
            await connection.close()

    asyncio.run(install())


class Producer:
    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.queries = Queries(AsyncpgDriver(connection))

    async def one(self, job: str, value: Any) -> None:
        await self.queries.enqueue(job, json.dumps(value).encode())

    async def many(self, job: str, values: list[Any]) -> None:
        await self.queries.enqueue([job] * len(values), [json.dumps(v).encode() for v in values],
                                   [0] * len(values))

    async def close(self) -> None:
        await self.connection.close()


async def producer() -> Producer:
    return Producer(await asyncpg.connect(PG_URL))


def serve() -> None:
    """What `pgq run ...:main --batch-size 100` does, on uvloop
    as the CLI runs it (the 1.6.0 CLI fails to set up its logging, so it is not used)."""
    import logging

    import pgqueuer
    import uvloop

    logging.basicConfig(level=logging.WARNING)
    uvloop.run(pgqueuer.run(main, batch_size=100))


if __name__ == "__main__":
    serve()
