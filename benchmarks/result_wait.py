"""The result round trip (#19): from ``enqueue`` to ``ref.result()`` returning, for a no-op
task, with an idle worker in another process: ``result_p50_ms`` and ``result_p99_ms``.

Run alone with ``python -m benchmarks.result_wait --store sqlite [--samples 200]``; ``make
bench`` runs it for every store (``benchmarks/__main__.py``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from benchmarks.common import producer, start_worker


def bench_result(url: str, samples: int) -> dict[str, float]:
    """Enqueue a no-op task and wait for its result, ``samples`` times, the worker idle
    (a short random pause) before each."""
    basket = producer(url)
    noop = basket.registry["noop"]
    basket.migrate()
    worker = start_worker(url, "--concurrency", "4", "--poll-interval", "1")
    latencies: list[float] = []
    try:
        noop.enqueue(-1).result(timeout=60)  # the worker is up
        basket.result(noop.enqueue(-2).id, timeout=30)  # and the listener too
        for i in range(samples):
            time.sleep(random.uniform(0.01, 0.03))
            started = time.perf_counter()
            noop.enqueue(i).result(timeout=30)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        worker.terminate()
        worker.wait(30)
        basket.close()
    latencies.sort()
    return {"result_p50_ms": statistics.median(latencies),
            "result_p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


def main() -> None:
    from rich.console import Console
    from tests.stores import factory

    from benchmarks.__main__ import ensure_pg_database, verdict

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default="sqlite")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    if "postgres" in args.store.split(","):
        ensure_pg_database()
    for store in args.store.split(","):
        store_factory = factory(store)
        url = store_factory.create(f"bench_result_{random.randrange(1 << 30)}")
        try:
            for metric, value in bench_result(url, args.samples).items():
                Console().print(f"{store:10} {metric:16} {value:8.2f} "
                                f"{verdict(store, metric, value)}")
        finally:
            store_factory.drop(url)


if __name__ == "__main__":
    main()
