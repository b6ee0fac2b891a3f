"""A cancel of a workflow's running task, on every store that keeps workflows and stops
running attempts: the attempt is stopped where it runs, the task ends ``cancelled`` with
the reason, and its waiting dependents are cancelled with it, their ``last_error`` naming
the dependency and the reason. ``basket.cancel(workflow_id=...)`` does the same to every
unfinished task of the workflow."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from taskbasket import Basket, chain
from taskbasket.task import State
from taskbasket.worker import Worker
from tests.helpers import wait_for

DEADLINE = 10.0
"""The longest the cancel of a running task may take to stop its handler here."""

pytestmark = [pytest.mark.needs("cancel_running", "workflows")]


@pytest.fixture
def started_worker(basket: Basket) -> Iterator[list[Worker]]:
    """A list the test appends its started worker to; stopped after the test."""
    made: list[Worker] = []
    yield made
    for each in made:
        each.stop(grace_period=5)


def _slow_chain(basket: Basket) -> tuple[threading.Event, threading.Event, list[str], Any]:
    """Register ``slow`` (runs until cancelled) and ``after`` (must never run); the
    chain slow -> after -> after."""
    started, stopped = threading.Event(), threading.Event()
    ran: list[str] = []

    @basket.task
    async def slow() -> str:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            stopped.set()
            raise
        return "late"

    @basket.task
    def after() -> None:
        ran.append("after")

    return started, stopped, ran, chain(slow.si(), after.si(), after.si())


@pytest.mark.parametrize("by_workflow", [False, True], ids=["by_id", "by_workflow"])
def test_cancel_of_a_running_workflow_task_reaches_it_and_cascades(
        basket: Basket, started_worker: list[Worker], by_workflow: bool) -> None:
    started, stopped, ran, steps = _slow_chain(basket)
    last = steps.enqueue()
    assert last.workflow_id is not None
    workflow = basket.workflow(last.workflow_id)
    head, middle, tail = (task.id for task in workflow.tasks)
    assert basket.get(middle).state is State.WAITING  # type: ignore[union-attr]
    worker = basket.worker(concurrency=2, visibility_timeout=120.0)
    started_worker.append(worker)
    worker.start()
    assert started.wait(30), "the handler never started"
    if by_workflow:
        cancelled = basket.cancel(workflow_id=workflow.id, reason="the order was withdrawn")
    else:
        cancelled = basket.cancel(head, reason="the order was withdrawn")
    assert cancelled >= 1
    assert stopped.wait(DEADLINE), "the running attempt was not stopped"
    wait_for(lambda: worker.in_flight == 0, DEADLINE, "the worker to let the task go")
    first_task = basket.get(head)
    assert first_task is not None and first_task.state is State.CANCELLED
    assert first_task.last_error == "the order was withdrawn"
    for task_id in (middle, tail):
        task = basket.get(task_id)
        assert task is not None and task.state is State.CANCELLED, task
        assert task.last_error is not None and "the order was withdrawn" in task.last_error
    if not by_workflow:  # cascaded (a workflow's cancel selects every task itself)
        middle_task = basket.get(middle)
        assert middle_task is not None and middle_task.last_error is not None
        assert middle_task.last_error.startswith(f"dependency {head}")
    assert ran == []
