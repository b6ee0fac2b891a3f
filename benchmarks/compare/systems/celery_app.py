"""celery under `make compare`: the Redis broker, results ignored, one task per job."""

from __future__ import annotations

import importlib.metadata
from typing import Any

from celery import Celery

from benchmarks.compare.jobs import handlers
from benchmarks.compare.places import REDIS_URL

app = Celery("compare", broker=REDIS_URL)
app.conf.update(
    task_ignore_result=True,
    task_default_queue="compare",
    worker_prefetch_multiplier=4,
    broker_connection_retry_on_startup=True,
)

TASKS = {name: app.task(name=name)(function) for name, function in handlers("sync").items()}


def version() -> str:
    return importlib.metadata.version("celery")


def setup() -> None:
    return None


class Producer:
    def one(self, job: str, value: Any) -> None:
        TASKS[job].delay(value)

    many = None  # celery publishes one message at a time (a group is a loop of sends)

    def close(self) -> None:
        app.close()


def producer() -> Producer:
    return Producer()
