"""What every benchmark shares: the producer basket and the worker process."""

from __future__ import annotations

import importlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from taskbasket import Basket

ROOT = Path(__file__).resolve().parent.parent


def producer(url: str) -> Basket:
    os.environ["TASKBASKET_URL"] = url
    from benchmarks import bench_app

    importlib.reload(bench_app)
    return bench_app.basket


def start_worker(
    url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A real `taskbasket worker` process for benchmarks.bench_app, with ``env`` added."""
    paths = [str(ROOT / "src"), str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    env = dict(os.environ, **(env or {}), TASKBASKET_URL=url, PYTHONPATH=os.pathsep.join(paths))
    return subprocess.Popen(
        [sys.executable, "-m", "taskbasket", "worker", "benchmarks.bench_app:basket",
         "--url", url, "--log-level", "WARNING", *args],
        cwd=ROOT, env=env,
    )


def wait_until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        time.sleep(0.01)


def bench_enqueue(
    url: str, single: int, batch: int, chunk: int = 5000, rounds: int = 3
) -> dict[str, float]:
    """Enqueue rates of no-op tasks: ``single`` one call each, ``batch`` in ``chunk``s.

    Each is timed over ``rounds`` rounds. The best round is the figure, as ``timeit``
    reports it: on a shared machine a slower round measures a neighbour, not the code. With
    several rounds the median is reported beside it.
    """
    basket = producer(url)
    noop = basket.registry["noop"]
    noop.enqueue(0)  # connect and migrate outside the timing
    singles: list[float] = []
    batches: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(single):
            noop.enqueue(i)
        singles.append(single / (time.perf_counter() - start))
        start = time.perf_counter()
        for offset in range(0, batch, chunk):
            noop.enqueue_many([(i,) for i in range(offset, min(batch, offset + chunk))])
        batches.append(batch / (time.perf_counter() - start))
    basket.close()
    rates = {"enqueue_single_per_s": max(singles), "enqueue_batch_per_s": max(batches)}
    if rounds > 1:
        rates["enqueue_single_median_per_s"] = statistics.median(singles)
        rates["enqueue_batch_median_per_s"] = statistics.median(batches)
    return rates


def latency_figures(prefix: str, latencies: list[float]) -> dict[str, float]:
    """``<prefix>_p50_ms`` and ``<prefix>_p99_ms`` of ``latencies`` (in milliseconds)."""
    ordered = sorted(latencies)
    return {f"{prefix}_p50_ms": statistics.median(ordered),
            f"{prefix}_p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]}


def run_alone(description: str, bench: Callable[[str, str, int], dict[str, float]],
              default_samples: int) -> None:
    """The command line of a benchmark run alone: ``--store a,b`` (each a new store, made
    and dropped here) and ``--samples``; ``bench(store, url, samples)`` gives the figures,
    printed against the targets."""
    import argparse
    import random

    from rich.console import Console
    from tests.stores import factory

    from benchmarks.__main__ import ensure_pg_database, verdict

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--store", default="sqlite")
    parser.add_argument("--samples", type=int, default=default_samples)
    args = parser.parse_args()
    if "postgres" in args.store.split(","):
        ensure_pg_database()
    for store in args.store.split(","):
        store_factory = factory(store)
        url = store_factory.create(f"bench_alone_{random.randrange(1 << 30)}_{os.getpid()}")
        try:
            for metric, value in bench(store, url, args.samples).items():
                Console().print(f"{store:10} {metric:16} {value:8.2f} "
                                f"{verdict(store, metric, value)}")
        finally:
            store_factory.drop(url)
