"""dramatiq under `make compare`: the RedisBroker, one actor per shared job."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from benchmarks.compare.jobs import handlers
from benchmarks.compare.places import REDIS_URL

broker = RedisBroker(url=REDIS_URL)
dramatiq.set_broker(broker)

ACTORS = {
    name: dramatiq.actor(function, actor_name=name, queue_name="compare")
    for name, function in handlers("sync").items()
}


def version() -> str:
    return importlib.metadata.version("dramatiq")


def setup() -> None:
    return None


class Producer:
    def one(self, job: str, value: Any) -> None:
        ACTORS[job].send(value)

    many = None  # dramatiq sends one message at a time (a group is a loop of sends)

    def close(self) -> None:
        broker.close()


def producer() -> Producer:
    return Producer()
