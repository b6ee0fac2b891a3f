"""Claim order ``created``: earlier enqueue first, whatever the priority and run_at, on
every store; ``priority`` stays the default (its order is in test_enqueue.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from taskbasket import Basket, ConfigurationError, UnsupportedOperationError
from taskbasket.backends.base import (
    ClaimedTask,
    ClaimOrder,
    ClaimParams,
    Outcome,
    OutcomeKind,
)
from tests.apps import crashapp
from tests.helpers import Effects, WorkerProcess, wait_for

# outcomes are checked on the stored tasks
pytestmark = pytest.mark.needs("task_records")


def claim(basket: Basket, limit: int, queues: list[str] | None = None,
          order: ClaimOrder = ClaimOrder.CREATED) -> list[ClaimedTask]:
    return basket.backend.tasks_claim(ClaimParams(
        worker_id="test", names=sorted(basket.registry), limit=limit, lease_seconds=30,
        queues=queues, order=order,
    ))


def ids(tasks: list[ClaimedTask]) -> list[str]:
    return [task.id for task in tasks]


@pytest.mark.needs("created_order", "task_records")
def test_created_order_takes_the_oldest_enqueued_first(basket: Basket) -> None:
    @basket.task(queue="a")
    def first(n: int) -> None: ...

    @basket.task(queue="b")
    def second(n: int) -> None: ...

    past = datetime.now(UTC) - timedelta(hours=1)
    refs = [
        first.options(priority=0).enqueue(0),
        second.options(priority=9).enqueue(1),
        first.options(priority=-5, run_at=past).enqueue(2),  # an earlier run_at: no matter
        second.options(priority=3).enqueue(3),
        first.options(priority=9).enqueue(4),
    ]
    later = first.options(priority=9, delay=3600).enqueue(5)  # not due: not claimed
    taken = ids(claim(basket, 2)) + ids(claim(basket, 2)) + ids(claim(basket, 10))
    assert taken == [ref.id for ref in refs]
    assert claim(basket, 10) == []
    assert basket.get(later.id).state == "scheduled"  # type: ignore[union-attr]


@pytest.mark.needs("created_order", "task_records")
def test_created_order_keeps_a_retried_task_in_its_place(basket: Basket) -> None:
    @basket.task(queue="a")
    def job(n: int) -> None: ...

    @basket.task(queue="b")
    def other(n: int) -> None: ...

    oldest = job.options(priority=-1).enqueue(0)
    elsewhere = other.options(priority=9).enqueue(1)
    newer = [job.options(priority=p).enqueue(p).id for p in (5, 9)]
    [held] = claim(basket, 1, queues=["a"])
    assert held.id == oldest.id
    # it fails and is due again at once: it still comes before the newer tasks
    assert basket.backend.tasks_finish(
        [Outcome(held.lease, OutcomeKind.RETRY, error="once more", retry_delay=0)]) == [True]
    assert ids(claim(basket, 2, queues=["a"])) == [oldest.id, newer[0]]
    assert ids(claim(basket, 10)) == [elsewhere.id, newer[1]]


@pytest.mark.needs("priority")
def test_the_default_order_is_still_priority(basket: Basket) -> None:
    @basket.task
    def job(n: int) -> None: ...

    low = job.options(priority=0).enqueue(0)
    high = job.options(priority=9).enqueue(1)
    assert ids(claim(basket, 10, order=ClaimOrder.PRIORITY)) == [high.id, low.id]
    assert basket.worker().order is ClaimOrder.PRIORITY


def test_worker_order_must_be_known(basket: Basket) -> None:
    @basket.task
    def job() -> None: ...

    with pytest.raises(ConfigurationError, match="order 'oldest' is unknown; choose "
                       "'priority'"):
        basket.worker(order="oldest")
    if basket.backend.capabilities.created_order:
        assert basket.worker(order="created").order is ClaimOrder.CREATED
    else:  # refused, naming the backends that can
        with pytest.raises(UnsupportedOperationError, match="order='priority'"):
            basket.worker(order="created")


@pytest.fixture
def producer(store_url: str) -> Iterator[Basket]:
    basket = Basket(store_url)
    for definition in crashapp.basket.registry.values():
        basket.task(name=definition.name, max_attempts=definition.max_attempts,
                    timeout=definition.timeout)(definition.func)
    yield basket
    basket.close()


@pytest.mark.needs("created_order", "shared_between_processes")
def test_taskbasket_worker_order_created_runs_in_enqueue_order(
    producer: Basket, store_url: str, tmp_path: Path
) -> None:
    effects = Effects(tmp_path / "effects.db")
    refs = [producer.enqueue("quick", args=[str(p)], priority=p) for p in (0, 9, -5, 9, 3)]
    worker = WorkerProcess(store_url, effects.path, "--order", "created", "-c", "1")
    try:
        worker.wait_started()
        wait_for(lambda: len(effects.events(event="done")) == len(refs), 60,
                 "every task to run")
        assert [row[0] for row in effects.events(event="done")] == [r.id for r in refs]
        assert worker.terminate() == 0
    finally:
        worker.stop()
