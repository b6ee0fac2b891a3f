"""The drain as a user sees it: a real `taskbasket worker` from launch to last task done.

``count`` tasks are prefilled; the clock starts at the worker's launch and stops at the
last task's ``finished_at`` in the store, so start-up, the first claims and the last
outcome are in it. CPU per task of the worker process (its whole tree) and of the
store's server processes (benchmarks/servers.py) is read from /proc between the
``first`` and ``last`` marks (a tenth of the tasks done, then all; benchmarks/marks.py),
so start-up is left out of those. The worker's RSS is read at the ``last`` mark.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.common import producer, start_worker, wait_until
from benchmarks.marks import cpu_seconds, process_tree, rss_bytes, wait_mark
from benchmarks.servers import ServerCpu
from taskbasket import State

REDIS_URL = os.environ.get("TASKBASKET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _last_finished(basket: Any, count: int) -> datetime:
    wait_until(lambda: basket.count(State.SUCCEEDED) >= count, 120)  # the last outcomes
    latest: datetime | None = None
    before: str | None = None
    while True:
        page = basket.list(State.SUCCEEDED, limit=5000, before=before)
        for task in page:
            if task.finished_at and (latest is None or task.finished_at > latest):
                latest = task.finished_at
        if len(page) < 5000:
            break
        before = page[-1].id
    if latest is None:
        raise RuntimeError("no finished task in the store after the drain")
    return latest


def bench_drain(url: str, job: str, count: int,
                server: ServerCpu) -> dict[str, float]:
    """Drain ``count`` prefilled ``job`` tasks ("noop" or "incr") with one worker."""
    import redis

    basket = producer(url)
    basket.purge()
    definition = basket.registry[job]
    for offset in range(0, count, 5000):
        definition.enqueue_many([(i,) for i in range(offset, min(count, offset + 5000))])
    marks = tempfile.mkdtemp(prefix="tb-bench-marks-")
    key = f"tb_bench:{os.getpid()}:{os.urandom(3).hex()}:count"
    client = redis.Redis.from_url(REDIS_URL)
    env = {"BENCH_MARKS": marks, "BENCH_TARGET": str(count), "BENCH_COUNT_KEY": key,
           "BENCH_REDIS_URL": REDIS_URL}
    try:
        launched = time.time()
        worker = start_worker(url, "--concurrency", "16", env=env)
        try:
            deadline = time.monotonic() + 600
            wait_mark(Path(marks), "first", deadline, worker)
            cpu_first = cpu_seconds(process_tree(worker.pid))
            server.start()
            wait_mark(Path(marks), "last", deadline, worker)
            tree = process_tree(worker.pid)
            cpu_last = cpu_seconds(tree)
            server_seconds = server.seconds_since_first()
            rss = rss_bytes(tree)
            finished = _last_finished(basket, count)
        finally:
            worker.terminate()
            worker.wait(30)
    finally:
        shutil.rmtree(marks, ignore_errors=True)
        client.delete(key)
        client.close()
    basket.purge()
    basket.close()
    window = count - max(1, count // 10)
    results = {
        f"drain_{job}_per_s": count / (finished.timestamp() - launched),
        f"drain_{job}_worker_cpu_us": (cpu_last - cpu_first) / window * 1e6,
        f"drain_{job}_worker_rss_mb": rss / 2**20,
    }
    if server_seconds is not None:
        results[f"drain_{job}_server_cpu_us"] = server_seconds / window * 1e6
    return results
