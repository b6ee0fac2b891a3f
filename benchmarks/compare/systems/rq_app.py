"""rq under `make compare`: one queue; this module is also the worker's settings (-c)."""

from __future__ import annotations

import importlib.metadata
from typing import Any

from benchmarks.compare.jobs import handlers
from benchmarks.compare.places import REDIS_URL

QUEUES = ["compare"]  # read by `rq worker -c`, with REDIS_URL


def version() -> str:
    return importlib.metadata.version("rq")


def setup() -> None:
    return None


class Producer:
    def __init__(self) -> None:
        from redis import Redis
        from rq import Queue

        self.connection = Redis.from_url(REDIS_URL)
        self.queue = Queue("compare", connection=self.connection)
        self.functions = handlers("sync")

    def one(self, job: str, value: Any) -> None:
        self.queue.enqueue(self.functions[job], value, result_ttl=0)

    def many(self, job: str, values: list[Any]) -> None:
        from rq import Queue

        function = self.functions[job]
        self.queue.enqueue_many(
            [Queue.prepare_data(function, (v,), result_ttl=0) for v in values])

    def close(self) -> None:
        self.connection.close()


def producer() -> Producer:
    return Producer()
