"""A worker holds an attempt only while it runs: nothing of a finished one stays behind.

A worker that kept each finished attempt's ``Job`` (and its ``ClaimedTask``) until the
task's timeout passed grew by about 1 KB per task. Here the worker keeps running after the
attempt is recorded, and the garbage collector must find no object of that task left.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest

from taskbasket import Basket, State
from taskbasket.backends.base import ClaimedTask
from taskbasket.worker.job import Job
from tests.apps import cpuapp
from tests.helpers import wait_for

# outcomes are checked on the stored tasks
pytestmark = pytest.mark.needs("task_records")


def alive(task_id: str) -> list[object]:
    """Every Job and ClaimedTask of ``task_id`` still alive in this process, after a full
    collection. (ClaimedTask has slots and no weakref, so the collector's list it is.)"""
    gc.collect()
    # type(), not isinstance(): isinstance asks a lazy proxy (Django's settings, imported
    # by other tests) for its __class__, which sets it up and raises outside a project
    return [
        found for found in gc.get_objects()
        if (type(found) is Job and found.claimed.id == task_id)
        or (type(found) is ClaimedTask and found.id == task_id)
    ]


def gated_task(basket: Basket, executor: str, gate: Path) -> Callable[[], str]:
    """Register a task of ``executor`` that runs until ``gate`` exists; returns an
    enqueue function giving the task id."""
    if executor == "process":
        definition = basket.task(name="wait_for_file", executor="process")(
            cpuapp.wait_for_file.func)
        return lambda: definition.enqueue(str(gate)).id
    if executor == "async":
        @basket.task
        async def wait_async(path: str) -> None:
            while not Path(path).exists():
                await asyncio.sleep(0.01)

        return lambda: wait_async.enqueue(str(gate)).id

    @basket.task
    def wait_sync(path: str) -> None:
        wait_for(lambda: Path(path).exists(), 30, "the gate")

    return lambda: wait_sync.enqueue(str(gate)).id


@pytest.mark.needs("task_records")
@pytest.mark.parametrize("executor", ["thread", "async", "process"])
def test_a_finished_attempt_is_released_at_once(
    basket: Basket, executor: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    enqueue = gated_task(basket, executor, gate)
    task_id = enqueue()
    worker = basket.worker(concurrency=2, processes=1, poll_interval=0.05)
    worker.start()
    try:
        jobs = wait_for(lambda: [j for j in alive(task_id) if isinstance(j, Job)], 60,
                        "the attempt to be claimed")
        job = weakref.ref(jobs[0])
        del jobs
        gate.touch()
        wait_for(lambda: basket.get(task_id).state == State.SUCCEEDED  # type: ignore[union-attr]
                 and worker.in_flight == 0, 60, "the attempt to be recorded")
        wait_for(lambda: job() is None and not alive(task_id), 10,
                 "the finished attempt's Job and ClaimedTask to be released")
        assert worker.started and not worker._stopped.is_set()  # released while running
    finally:
        gate.touch()
        worker.stop()
