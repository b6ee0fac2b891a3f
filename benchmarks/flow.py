"""Flow control (#20): what limits cost when they do not bind, and what fairness gives.

- ``flow_limits_cost``: the drain rate of no-op tasks under a queue limit and per-key
  limits that never bind (ten keys), over the rate without limits (target >= 0.9). Each
  drain is ``benchmarks/drain.py``'s, best of two rounds.
- ``fair_quiet_pickup_p99_ratio``: a quiet key's pickup p99 while a noisy key holds 10,000
  queued tasks of 2 ms, over its p99 on an idle worker (target <= 2).

Run alone with ``python -m benchmarks.flow --store sqlite,redis``; ``make bench`` runs it
for every store (``benchmarks/__main__.py``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from benchmarks.common import producer, start_worker, wait_until
from benchmarks.drain import bench_drain
from benchmarks.servers import ServerCpu
from taskbasket import State

NOISY = 10_000


def bench_flow_cost(url: str, count: int, server: ServerCpu) -> dict[str, float]:
    plain: list[float] = []
    limited: list[float] = []
    basket = producer(url)
    for _ in range(2):
        plain.append(bench_drain(url, "noop", count, server)["drain_noop_per_s"])
        basket.configure_queue("default", concurrency=100_000)
        try:
            limited.append(bench_drain(url, "keyed", count, server)["drain_keyed_per_s"])
        finally:
            basket.configure_queue("default", concurrency=None)
    return {"flow_drain_plain_per_s": max(plain), "flow_drain_limited_per_s": max(limited),
            "flow_limits_cost": max(limited) / max(plain)}


def _pickups(basket: Any, samples: int, noisy_left: Any) -> list[float]:
    fair = basket.registry["fair"]
    found: list[float] = []
    for i in range(samples):
        if not noisy_left():
            break
        time.sleep(random.uniform(0.01, 0.03))
        ref = fair.enqueue(i, "quiet")
        wait_until(lambda: basket.get(ref.id).state == State.SUCCEEDED, 30)  # noqa: B023
        task = basket.get(ref.id)
        assert task is not None and task.started_at is not None
        found.append((task.started_at - task.created_at).total_seconds() * 1000)
    return sorted(found)


def _p99(values: list[float]) -> float:
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def bench_fairness(url: str, samples: int) -> dict[str, float]:
    basket = producer(url)
    basket.purge()
    fair = basket.registry["fair"]
    worker = start_worker(url, "--concurrency", "4", "--poll-interval", "1")
    try:
        _pickups(basket, 2, lambda: True)  # the worker is up, its listener too
        idle = _pickups(basket, samples, lambda: True)
        for offset in range(0, NOISY, 5000):
            fair.enqueue_many([(n, "noisy") for n in range(offset, offset + 5000)])
        busy = _pickups(basket, samples,
                        lambda: basket.count(State.QUEUED, name="fair") > NOISY // 10)
    finally:
        worker.terminate()
        worker.wait(30)
        basket.purge()
        basket.close()
    return {"fair_idle_pickup_p99_ms": _p99(idle), "fair_noisy_pickup_p99_ms": _p99(busy),
            "fair_noisy_pickup_p50_ms": statistics.median(busy),
            "fair_quiet_pickup_p99_ratio": _p99(busy) / _p99(idle),
            "fair_noisy_samples": float(len(busy))}


def bench_flow(url: str, quick: bool, server: ServerCpu) -> dict[str, float]:
    results = bench_flow_cost(url, 3000 if quick else 20_000, server)
    results.update(bench_fairness(url, 30 if quick else 100))
    return results


def main() -> None:
    from rich.console import Console
    from tests.stores import factory

    from benchmarks.__main__ import PG_ADMIN_URL, PG_DATABASE, verdict

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default="sqlite")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for store in args.store.split(","):
        store_factory = factory(store)
        url = store_factory.create(f"bench_flow_{random.randrange(1 << 30)}")
        try:
            server = ServerCpu(store, PG_ADMIN_URL, PG_DATABASE)
            for metric, value in bench_flow(url, args.quick, server).items():
                Console().print(f"{store:10} {metric:28} {value:10.2f} "
                                f"{verdict(store, metric, value)}")
        finally:
            store_factory.drop(url)


if __name__ == "__main__":
    main()
