"""Workflows survive SIGKILLed workers: real worker processes are killed again and again in
the middle of workflows of 50 tasks (a chain of 10 steps, a group of 39, a gather), and
every workflow still finishes with the right result: a release is in the step that
records the success, so no kill can strand a dependent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from taskbasket import Basket, State, chain, group
from tests.conformance.test_crash import producer
from tests.helpers import Effects, WorkerProcess, wait_for

__all__ = ["producer"]  # the fixture: a producer of the crash app's tasks

pytestmark = [pytest.mark.slow, pytest.mark.needs("workflows", "shared_between_processes")]

PAUSE = 0.2
WORKFLOWS = 2
GROUP = 39


def workflow(basket: Basket) -> object:
    step, gather = basket.get_definition("step"), basket.get_definition("gather")
    return chain(step.s(0, PAUSE), *(step.s(PAUSE) for _ in range(9)),
                 group(step.s(PAUSE) for _ in range(GROUP)), gather.s())


def state(basket: Basket, task_id: str) -> State | None:
    task = basket.get(task_id, with_arguments=False)
    return None if task is None else task.state


@pytest.mark.timeout(300)
def test_workflows_finish_while_their_workers_are_killed(
    producer: Basket, store_url: str, tmp_path: Path
) -> None:
    effects = Effects(tmp_path / "effects.db")
    refs = [workflow(producer).enqueue() for _ in range(WORKFLOWS)]  # type: ignore[attr-defined]
    assert all(len(producer.workflow(ref.workflow_id)) == 50 for ref in refs)
    workers: list[WorkerProcess] = []

    def spawn() -> WorkerProcess:
        worker = WorkerProcess(store_url, effects.path, "--visibility-timeout", "1",
                               "--concurrency", "4")
        workers.append(worker)
        worker.wait_started()
        return worker

    try:
        live = [spawn(), spawn()]
        kills = 0

        def done() -> bool:
            return all(state(producer, ref.id) is State.SUCCEEDED for ref in refs)

        for _ in range(4):  # kill one in the middle of its work, start another
            started = len(effects.events(event="start"))
            wait_for(lambda s=started: done() or len(effects.events(event="start")) > s + 3,
                     60, "the workers to run more steps")
            if done():
                break
            live.pop(0).kill()
            kills += 1
            live.append(spawn())
        deadline = time.monotonic() + 180
        for ref in refs:
            left = max(1.0, deadline - time.monotonic())
            assert ref.result(timeout=left) == GROUP * 11
        for ref in refs:
            tasks = producer.workflow(ref.workflow_id)  # type: ignore[arg-type]
            assert {task.state for task in tasks} == {State.SUCCEEDED}
        assert kills >= 2, "the workflows ended before the workers were killed"
        # killed attempts ran again: some step started more than once
        starts = effects.events(event="start")
        assert len(starts) >= WORKFLOWS * 50
    finally:
        for worker in workers:
            worker.stop()
