"""A worker's resident memory while it drains no-op tasks: it must stay flat.

One ``taskbasket worker --concurrency 16`` process drains no-op tasks (default timeout)
fed in chunks so it runs at full speed; its RSS (``VmRSS`` in ``/proc/<pid>/status``) is
read when idle after a warm-up, then each time the count of tasks it finished passes a
checkpoint. ``make bench`` reports these figures for every store; run it alone for longer
drains::

    python -m benchmarks.memory --store sqlite --tasks 100000,300000,1000000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import producer, start_worker, wait_until  # noqa: E402
from taskbasket import State  # noqa: E402

WARM_UP = 2_000
CHUNK = 5_000
BACKLOG = 20_000  # tasks kept queued ahead of the worker, so it never waits for work


def rss_mb(pid: int) -> float:
    """The resident set size of process ``pid`` in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def label(count: int) -> str:
    return f"{count // 1000}k" if count % 1000 == 0 else str(count)


def bench_memory(url: str, checkpoints: list[int]) -> dict[str, float]:
    """Worker RSS idle and after each checkpoint's count of drained tasks, in MB."""
    basket = producer(url)
    noop = basket.registry["noop"]
    basket.migrate()
    basket.purge()
    enqueued = 0

    def enqueue(count: int) -> None:
        nonlocal enqueued
        for offset in range(0, count, CHUNK):
            size = min(CHUNK, count - offset)
            noop.enqueue_many([(enqueued + i,) for i in range(size)])
            enqueued += size

    seen = 0

    def succeeded() -> int:
        """Tasks done; a dropped connection (another job cutting the shared server's
        connections) counts as no news, since the worker rides it out too."""
        nonlocal seen
        try:
            seen = basket.count(State.SUCCEEDED)
        except Exception as exc:
            print(f"counting failed, retrying: {type(exc).__name__}: {exc}", file=sys.stderr)
            time.sleep(0.2)
        return seen

    worker = start_worker(url, "--concurrency", "16")
    results: dict[str, float] = {}
    try:
        enqueue(WARM_UP)
        wait_until(lambda: succeeded() >= WARM_UP, 120)
        wait_until(lambda: basket.count(State.RUNNING) == 0, 30)
        results["worker_rss_mb_idle"] = rss_mb(worker.pid)
        for checkpoint in sorted(checkpoints):
            target = WARM_UP + checkpoint
            done = succeeded()
            while done < target:  # keep a backlog queued until the checkpoint is fed
                if worker.poll() is not None:
                    raise RuntimeError(f"the worker exited with {worker.returncode}")
                if enqueued < target and enqueued - done < BACKLOG:
                    enqueue(min(CHUNK, target - enqueued))
                else:
                    time.sleep(0.05)
                done = succeeded()
            results[f"worker_rss_mb_{label(checkpoint)}"] = rss_mb(worker.pid)
    finally:
        worker.terminate()
        worker.wait(30)
        basket.purge()
        basket.close()
    return results


def main() -> None:
    from tests.stores import factory

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="sqlite", help="comma-separated stores")
    parser.add_argument("--tasks", default="100000,300000",
                        help="comma-separated checkpoints: tasks drained")
    args = parser.parse_args()
    checkpoints = [int(n) for n in args.tasks.split(",") if n.strip()]
    for store in [s.strip() for s in args.store.split(",") if s.strip()]:
        store_factory = factory(store)
        reason = store_factory.unavailable()
        if reason:
            print(f"skipping {store}: {reason}")
            continue
        url = store_factory.create(f"bench_memory_{os.getpid()}")
        try:
            for metric, value in bench_memory(url, checkpoints).items():
                print(f"{store:10} {metric:28} {value:8.1f}")
        finally:
            store_factory.drop(url)


if __name__ == "__main__":
    main()
