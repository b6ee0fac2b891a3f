"""Claims beside tasks that are not due yet (issue #17): a due task of low priority is
claimed while many future tasks of a higher priority wait, and a claim still takes a due
scheduled or retrying task at once, in claim order, without waiting for the stager."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from taskbasket import Basket, State
from taskbasket.backends.base import ClaimedTask, ClaimOrder, ClaimParams, Outcome, OutcomeKind

pytestmark = pytest.mark.needs("task_records", "priority")

FUTURE_TASKS = 2000


def claim(basket: Basket, limit: int,
          order: ClaimOrder = ClaimOrder.PRIORITY) -> list[ClaimedTask]:
    return basket.backend.tasks_claim(ClaimParams(
        worker_id="test", names=sorted(basket.registry), limit=limit, lease_seconds=30,
        order=order,
    ))


def _wait_until_due(basket: Basket, task_id: str) -> None:
    """Until the scheduled task ``task_id`` is due (nothing here promotes it)."""
    task = basket.get(task_id)
    assert task is not None and task.state == State.SCHEDULED
    time.sleep(max(0.0, (task.run_at - datetime.now(UTC)).total_seconds()) + 0.2)


def test_a_due_task_is_claimed_while_future_higher_priority_tasks_wait(basket: Basket) -> None:
    @basket.task
    def job(n: int) -> None: ...

    basket.enqueue_many("job", [(i,) for i in range(FUTURE_TASKS)], priority=9, delay=3600)
    due = [job.options(priority=0).enqueue(n).id for n in range(3)]
    assert [t.id for t in claim(basket, 2)] == due[:2]
    assert [t.id for t in claim(basket, 10)] == due[2:]
    assert claim(basket, 10) == []
    assert basket.count(State.SCHEDULED) == FUTURE_TASKS


@pytest.mark.needs("created_order")
def test_a_due_task_is_claimed_in_created_order_behind_older_future_tasks(
    basket: Basket,
) -> None:
    @basket.task
    def job(n: int) -> None: ...

    basket.enqueue_many("job", [(i,) for i in range(FUTURE_TASKS)], priority=9, delay=3600)
    due = [job.options(priority=0).enqueue(n).id for n in range(3)]
    taken = claim(basket, 2, ClaimOrder.CREATED) + claim(basket, 10, ClaimOrder.CREATED)
    assert [t.id for t in taken] == due
    assert basket.count(State.SCHEDULED) == FUTURE_TASKS


def test_a_due_scheduled_task_of_higher_priority_comes_before_a_queued_one(
    basket: Basket,
) -> None:
    @basket.task
    def job(n: int) -> None: ...

    scheduled = job.options(priority=9, delay=0.3).enqueue(0)
    low = job.options(priority=1).enqueue(1)
    _wait_until_due(basket, scheduled.id)
    assert [t.id for t in claim(basket, 1)] == [scheduled.id]
    assert [t.id for t in claim(basket, 1)] == [low.id]


def test_due_scheduled_and_retrying_tasks_merge_into_the_priority_order(
    basket: Basket,
) -> None:
    """Exact whenever a claim's limit covers the due tasks not queued yet (a store may
    take the earliest due of those first when they are more than the limit)."""
    @basket.task
    def job(n: int) -> None: ...

    retried = job.options(priority=5).enqueue(0)
    [held] = claim(basket, 1)
    assert basket.backend.tasks_finish(
        [Outcome(held.lease, OutcomeKind.RETRY, error="again", retry_delay=0)]) == [True]
    assert basket.get(retried.id).state == State.RETRYING  # type: ignore[union-attr]
    scheduled = job.options(priority=9, delay=0.3).enqueue(1)
    low = job.options(priority=1).enqueue(2)
    high = job.options(priority=7).enqueue(3)
    _wait_until_due(basket, scheduled.id)
    assert [t.id for t in claim(basket, 2)] == [scheduled.id, high.id]
    assert [t.id for t in claim(basket, 10)] == [retried.id, low.id]


@pytest.mark.needs("created_order")
def test_a_due_scheduled_task_enqueued_first_comes_first_in_created_order(
    basket: Basket,
) -> None:
    @basket.task
    def job(n: int) -> None: ...

    scheduled = job.options(priority=-5, delay=0.3).enqueue(0)
    queued = [job.options(priority=9).enqueue(n).id for n in (1, 2)]
    _wait_until_due(basket, scheduled.id)
    assert [t.id for t in claim(basket, 2, ClaimOrder.CREATED)] == [scheduled.id, queued[0]]
    assert [t.id for t in claim(basket, 10, ClaimOrder.CREATED)] == queued[1:]
