"""CPU-bound tasks on the process executor: two child processes against one.

The figure is the throughput with ``--processes 2`` divided by that with ``--processes 1``;
on two cores it should be >= 1.7.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from taskbasket import Basket, State

ROOT = Path(__file__).resolve().parent.parent
TASKS = 16
WORK = 8  # million loop steps per task: long enough that starting children is noise


def _run(url: str, processes: int) -> float:
    basket = Basket(url)
    basket.purge()
    basket.enqueue_many("crunch", [(WORK,)] * TASKS)
    env = dict(os.environ, TASKBASKET_URL=url,
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))  # this checkout
    worker = subprocess.Popen(
        [sys.executable, "-m", "taskbasket", "worker", "tests.apps.cpuapp:basket", "--url", url,
         "--concurrency", str(processes), "--processes", str(processes), "--log-level",
         "WARNING"], cwd=ROOT, env=env,
    )
    try:
        deadline = time.monotonic() + 300
        while basket.count(State.SUCCEEDED) < TASKS:
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the process benchmark did not finish")
            time.sleep(0.05)
    finally:
        worker.terminate()
        worker.wait(30)
    tasks = basket.list(State.SUCCEEDED, limit=TASKS)
    first = min(t.started_at for t in tasks if t.started_at)
    last = max(t.finished_at for t in tasks if t.finished_at)
    basket.purge()
    basket.close()
    return TASKS / (last - first).total_seconds()


def run(url: str) -> dict[str, float]:
    one = _run(url, 1)
    two = _run(url, 2)
    return {"process_tasks_per_s_1": one, "process_tasks_per_s_2": two,
            "process_speedup": two / one}
