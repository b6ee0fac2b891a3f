"""Durable steps under SIGKILL (#23): real worker processes are killed in the middle of
tasks of 10 steps; every task finishes, and no step body runs twice except the step that
was running when its attempt's worker was killed."""

from __future__ import annotations

import random
import time
from collections import defaultdict
from pathlib import Path

import pytest

from taskbasket import Basket, State
from tests.conformance import test_crash
from tests.helpers import Effects, WorkerProcess, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.needs("shared_between_processes", "steps")]

TASKS, STEPS = 6, 10

producer = test_crash.producer  # the fixture: a basket of the crash app's tasks


def test_killed_workers_never_rerun_a_recorded_step(
        producer: Basket, store_url: str, tmp_path: Path) -> None:
    effects = Effects(tmp_path / "effects.db")
    refs = [producer.enqueue("stepped", args=[STEPS, 0.25]) for _ in range(TASKS)]
    args = ("--visibility-timeout", "1", "--concurrency", "2")
    workers = [WorkerProcess(store_url, effects.path, *args) for _ in range(3)]
    kills, chooser = 0, random.Random(23)
    try:
        for worker in workers:
            worker.wait_started()
        deadline = time.monotonic() + 120
        while kills < 5 and time.monotonic() < deadline:
            time.sleep(chooser.uniform(0.5, 1.0))
            if all(_state(producer, ref.id) is State.SUCCEEDED for ref in refs):
                break
            victim = chooser.choice(workers)
            victim.stop()
            kills += 1
            workers.remove(victim)
            fresh = WorkerProcess(store_url, effects.path, *args)
            fresh.wait_started()
            workers.append(fresh)
        wait_for(lambda: all(_state(producer, ref.id) is State.SUCCEEDED for ref in refs),
                 120, "every stepped task to succeed")
    finally:
        for worker in workers:
            worker.stop()
    assert kills >= 1
    reruns, interrupted = 0, 0
    for ref in refs:
        task = producer.get(ref.id)
        assert task is not None and task.result == sum(range(STEPS))
        runs: dict[int, list[int]] = defaultdict(list)  # attempt -> the steps it ran
        for _, attempt, event, _ in effects.events(ref.id):
            runs[attempt].append(int(event.removeprefix("step")))
        ran = [step for attempt in sorted(runs) for step in runs[attempt]]
        assert sorted(set(ran)) == list(range(STEPS)), ran
        last = max(runs)
        for attempt, steps in runs.items():
            later = {s for a, ss in runs.items() if a > attempt for s in ss}
            repeated = [s for s in steps if s in later]
            # an attempt cut short by a kill may leave its last step to run again; no
            # step it recorded runs again, and the last attempt repeats nothing
            assert repeated in ([], [steps[-1]]), (ref.id, attempt, dict(runs))
            assert attempt == last or attempt < task.attempts
            reruns += len(repeated)
        interrupted += task.attempts > 1
    assert interrupted >= 1  # the kills hit tasks in the middle of their steps
    assert reruns <= kills * 2  # at most one step per task a killed worker held


def _state(basket: Basket, task_id: str) -> State | None:
    task = basket.get(task_id)
    return task.state if task else None
