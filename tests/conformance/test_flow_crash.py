"""Real worker processes under a per-key concurrency limit, SIGKILLed while they run: the
most tasks of a key ever running at once never passes the limit, and every task ends."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from taskbasket import Basket
from tests.apps import flowapp
from tests.helpers import Effects, WorkerProcess, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.needs("shared_between_processes", "flow_control")]

APP = "tests.apps.flowapp:basket"
WORKER_ARGS = ("--visibility-timeout", "1", "--concurrency", "4")


def most_at_once(effects: Path, killed: dict[int, float]) -> dict[str, int]:
    """Per key, the most runs between their start and their end; a run of a killed
    worker that never ended ends when its worker was killed."""
    with sqlite3.connect(effects) as conn:
        rows = conn.execute("SELECT task_id, attempt, event, pid, at FROM effects").fetchall()
    starts = {(r[0], r[1]): (r[2].split(":", 1)[1], r[3], r[4]) for r in rows
              if r[2].startswith("start:")}
    ends = {(r[0], r[1]): r[4] for r in rows if r[2].startswith("end:")}
    moments: dict[str, list[tuple[float, int]]] = {}
    for run, (key, pid, started) in starts.items():
        ended = ends.get(run, killed.get(pid, time.time()))
        moments.setdefault(key, []).extend([(started, 1), (ended, -1)])
    most: dict[str, int] = {}
    for key, changes in moments.items():
        running = 0
        for _, step in sorted(changes, key=lambda c: (c[0], c[1])):  # an end first at a tie
            running += step
            most[key] = max(most.get(key, 0), running)
    return most


def test_a_key_limit_holds_while_workers_are_killed(store_url: str, tmp_path: Path) -> None:
    effects = Effects(tmp_path / "effects.db")
    producer = Basket(store_url)
    producer.task(name="limited")(flowapp.limited.func)
    tasks = 24
    refs = [producer.enqueue("limited", args=[key, 0.3])
            for key in ("a", "b") for _ in range(tasks // 2)]
    workers = [WorkerProcess(store_url, effects.path, *WORKER_ARGS, app=APP) for _ in range(3)]
    killed: dict[int, float] = {}
    try:
        for worker in workers:
            worker.wait_started()
        for victim in workers[:2]:  # kill two of them mid-run, one after the other
            wait_for(lambda: len(effects.events()) >= 6 * (len(killed) + 1), 60,
                     "tasks to start")
            victim.kill()
            killed[victim.pid] = time.time()
            workers.append(WorkerProcess(store_url, effects.path, *WORKER_ARGS, app=APP))
            workers[-1].wait_started()
        wait_for(lambda: producer.count(state="succeeded") == tasks, 120, "every task to end")
    finally:
        for worker in workers:
            worker.stop()
        producer.close()
    most = most_at_once(effects.path, killed)
    assert set(most) == {"a", "b"}
    assert max(most.values()) == flowapp.PER_KEY, most  # reached, never passed
    assert len(refs) == tasks
