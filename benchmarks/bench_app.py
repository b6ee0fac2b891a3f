"""The benchmark's tasks: a no-op and a one-round-trip job (one Redis ``INCR``).

``noop`` does nothing but count itself done (benchmarks/marks.py), so the figures measure
taskbasket, not the handler; ``incr`` is the smallest real job, one network round trip,
and its count comes back with it. ``$BENCH_REDIS_URL`` and ``$BENCH_COUNT_KEY`` say
where ``incr`` counts.
"""

from __future__ import annotations

import os
import time
from typing import Any

from benchmarks.marks import PROGRESS
from taskbasket import Basket

basket = Basket(os.environ.get("TASKBASKET_URL"))
COUNT_KEY = os.environ.get("BENCH_COUNT_KEY", "tb_bench:count")
_redis: Any = None


def _client() -> Any:
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(
            os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    return _redis


@basket.task(max_attempts=3)
def noop(n: int = 0) -> None:
    PROGRESS.tick()


@basket.task(max_attempts=3, concurrency=100_000, limit_key=lambda n=0: f"k{n % 10}")
def keyed(n: int = 0) -> None:
    """``noop`` under a per-key limit that never binds (ten keys): flow control's cost."""
    PROGRESS.tick()


@basket.task(max_attempts=3, concurrency=100_000, limit_key=lambda n, key: key)
def fair(n: int, key: str) -> None:
    """A task of one key among others (the noisy key's take 2 ms): flow control's
    fairness."""
    if key == "noisy":
        time.sleep(0.002)


@basket.task(max_attempts=3)
def incr(n: int = 0) -> None:
    PROGRESS.reached(_client().incr(COUNT_KEY))


@basket.task(max_attempts=1, timeout=300)
def linger(path: str) -> None:
    """Runs until cancelled (benchmarks/cancel_latency.py): makes ``<path>.started``, then
    checks for its cancel every millisecond and, once cancelled, writes the time it saw it
    (``time.time()``) to ``path``."""
    import time

    from taskbasket import TaskCancelled, current_task

    context = current_task()
    assert context is not None
    with open(f"{path}.started", "w"):
        pass
    try:
        while True:
            context.raise_if_cancelled()
            time.sleep(0.001)
    except TaskCancelled:
        with open(f"{path}.tmp", "w") as out:
            out.write(repr(time.time()))
        os.replace(f"{path}.tmp", path)
        raise
