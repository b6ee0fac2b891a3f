"""Durable steps (#23): what a step costs on each store, run in this process by
``drain``: ``step_record_ms`` (a new step: its fenced write, one statement or script) and
``step_replay_us`` (a completed step on a later run: read once per attempt, then free).

Run alone with ``python -m benchmarks.steps --store sqlite [--steps 200]``; ``make bench``
runs it for every store (``benchmarks/__main__.py``).
"""

from __future__ import annotations

import argparse
import random
import time

from taskbasket import Basket, Retry, current_task
from taskbasket.testing import drain


def bench_steps(url: str, steps: int) -> dict[str, float]:
    """One task of ``steps`` steps that records them all, then retries once at once and
    replays them all."""
    basket = Basket(url)
    marks: list[float] = []

    @basket.task(name="bench_stepped", max_attempts=2)
    def stepped(n: int) -> int:
        ctx = current_task()
        assert ctx is not None
        marks.append(time.perf_counter())
        total = sum(int(ctx.step(f"s{i}", int, i)) for i in range(n))
        marks.append(time.perf_counter())
        if len(marks) == 2:
            raise Retry(delay=0)
        return total

    try:
        basket.migrate()
        stepped.enqueue(steps)
        drain(basket)
    finally:
        basket.close()
    record, replay = marks[1] - marks[0], marks[3] - marks[2]
    return {"step_record_ms": record / steps * 1000, "step_replay_us": replay / steps * 1e6}


def main() -> None:
    from rich.console import Console
    from tests.stores import factory

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default="sqlite")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    for store in args.store.split(","):
        store_factory = factory(store)
        url = store_factory.create(f"bench_steps_{random.randrange(1 << 30)}")
        try:
            for metric, value in bench_steps(url, args.steps).items():
                Console().print(f"{store:10} {metric:16} {value:8.2f}")
        finally:
            store_factory.drop(url)


if __name__ == "__main__":
    main()
