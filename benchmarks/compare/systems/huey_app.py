"""huey under `make compare`: RedisHuey or SqliteHuey, results off, one task per job."""

from __future__ import annotations

import importlib.metadata
from typing import Any

from huey import RedisHuey, SqliteHuey

from benchmarks.compare.jobs import handlers
from benchmarks.compare.places import REDIS_URL, STORE, sqlite_path

if STORE == "sqlite":
    huey: Any = SqliteHuey("compare", filename=sqlite_path("huey.db"), results=False)
else:
    huey = RedisHuey("compare", url=REDIS_URL, results=False)

TASKS = {name: huey.task(name=name)(function) for name, function in handlers("sync").items()}


def version() -> str:
    return importlib.metadata.version("huey")


def setup() -> None:
    return None  # huey makes its tables on first use


class Producer:
    def one(self, job: str, value: Any) -> None:
        TASKS[job](value)

    many = None  # huey has no batch enqueue

    def close(self) -> None:
        return None


def producer() -> Producer:
    return Producer()
