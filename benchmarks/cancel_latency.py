"""The cancel of a running task (#22): from the moment ``basket.cancel`` is called to the
running handler seeing it (``raise_if_cancelled`` raising), for a thread handler that
checks every millisecond, its worker in another process:
``cancel_p50_ms`` and ``cancel_p99_ms`` (the target: p99 within one second on every
store; pushed on SQLite, PostgreSQL and Redis, polled on MySQL).

Run alone with ``python -m benchmarks.cancel_latency --store sqlite [--samples 100]``;
``--store memory`` runs the worker in this process (a memory store lives in one).
``make bench`` runs it for every shared store (``benchmarks/__main__.py``).
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import latency_figures, producer, run_alone, start_worker, wait_until


def bench_cancel(url: str, samples: int, in_process: bool = False) -> dict[str, float]:
    """Start a ``linger`` task, wait until it runs, cancel it and read when its handler saw
    the cancel; ``samples`` times, one task at a time."""
    basket = producer(url)
    linger = basket.registry["linger"]
    basket.migrate()
    stop: Callable[[], None]
    if in_process:
        worker = basket.worker(concurrency=4, poll_interval=1)
        worker.start()
        stop = worker.stop
    else:
        process = start_worker(url, "--concurrency", "4", "--poll-interval", "1")

        def stop() -> None:
            process.terminate()
            process.wait(30)
    latencies: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="tb-cancel-") as folder:
            for i in range(samples + 1):  # the first one warms the worker up
                path = Path(folder) / f"{i}"
                ref = linger.enqueue(str(path))
                wait_until(Path(f"{path}.started").exists, 60)
                time.sleep(random.uniform(0.01, 0.03))
                asked = time.time()
                basket.cancel(ref.id, reason="benchmark")
                wait_until(path.exists, 30)
                if i:
                    latencies.append((float(path.read_text()) - asked) * 1000)
    finally:
        stop()
        basket.close()
    return latency_figures("cancel", latencies)


if __name__ == "__main__":
    run_alone(__doc__ or "", lambda store, url, samples: bench_cancel(
        url, samples, in_process=store == "memory"), 100)
