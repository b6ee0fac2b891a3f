"""The result round trip (#19): from ``enqueue`` to ``ref.result()`` returning, for a no-op
task, with an idle worker in another process: ``result_p50_ms`` and ``result_p99_ms``.

Run alone with ``python -m benchmarks.result_wait --store sqlite [--samples 200]``; ``make
bench`` runs it for every store (``benchmarks/__main__.py``).
"""

from __future__ import annotations

import random
import time

from benchmarks.common import latency_figures, producer, run_alone, start_worker


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
    return latency_figures("result", latencies)


if __name__ == "__main__":
    run_alone(__doc__ or "", lambda store, url, samples: bench_result(url, samples), 200)
