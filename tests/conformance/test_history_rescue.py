"""An attempt whose lease expired (its worker died) has its entry in the task's history (#22).

The rescuer builds the entry (the worker, start, end on the store's clock, outcome
``lease_expired``, the error's summary) from what ``leases_expired`` read, and the store
writes it in the rescue's fenced step, on every store that keeps a history. With a real
worker process SIGKILLed: tests/conformance/test_crash.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from taskbasket import AttemptEntry, Basket, State
from taskbasket.backends.base import (
    Lease,
    LeaseRescue,
    LeasesExpiredParams,
    LeasesRescueParams,
    RescueKind,
)
from taskbasket.history import error_summary
from taskbasket.maintenance.rescuer import Rescuer
from taskbasket.rules import LEASE_EXPIRED_OUTCOME
from tests.conformance.test_enqueue import claim
from tests.helpers import wait_for

SHORT = 0.05


def _attempts(basket: Basket, task_id: str) -> list[AttemptEntry]:
    task = basket.get(task_id)
    assert task is not None
    return [e for e in task.history if isinstance(e, AttemptEntry)]


def _expire(basket: Basket, count: int = 1) -> None:
    wait_for(lambda: len(basket.backend.leases_expired(LeasesExpiredParams())) >= count, 10,
             "the leases to expire")


def _state(basket: Basket, task_id: str) -> State | None:
    task = basket.get(task_id)
    return None if task is None else task.state


@pytest.mark.needs("history", "lease_expiry", "task_records")
def test_a_rescued_attempt_is_in_the_history_then_the_attempt_that_succeeded(
    basket: Basket,
) -> None:
    @basket.task(max_attempts=3)
    def job() -> None: ...

    ref = job.enqueue()
    [lost] = claim(basket, lease=SHORT)  # claimed by worker "test", which then "dies"
    _expire(basket)
    store_now = basket.backend.now()
    report = Rescuer(basket.backend).run_once()
    assert [lease.id for lease in report.requeued] == [ref.id]
    task = basket.get(ref.id)
    assert task is not None and task.state == State.QUEUED
    [entry] = _attempts(basket, ref.id)
    assert (entry.attempt, entry.worker_id, entry.outcome) == (1, "test", LEASE_EXPIRED_OUTCOME)
    assert entry.error == error_summary(task.last_error)
    assert entry.error.startswith("lease expired on attempt 1 of 3")
    assert entry.started_at <= entry.ended_at
    assert abs(entry.ended_at - store_now) < timedelta(seconds=30)  # the store's clock
    worker = basket.worker(visibility_timeout=10)
    worker.start()
    try:
        wait_for(lambda: _state(basket, ref.id) == State.SUCCEEDED, 30, "the second attempt")
    finally:
        worker.stop()
    first, second = _attempts(basket, ref.id)
    assert first == entry
    assert (second.attempt, second.outcome, second.worker_id) == (
        2, "succeeded", worker.worker_id)
    assert lost.attempts == 1


@pytest.mark.needs("history", "lease_expiry", "task_records")
def test_an_attempt_lost_on_the_last_attempt_is_in_the_history_of_the_failed_task(
    basket: Basket,
) -> None:
    @basket.task(max_attempts=1)
    def job() -> None: ...

    ref = job.enqueue()
    claim(basket, lease=SHORT)
    _expire(basket)
    assert [lease.id for lease in Rescuer(basket.backend).run_once().failed] == [ref.id]
    task = basket.get(ref.id)
    assert task is not None and task.state == State.FAILED
    [entry] = _attempts(basket, ref.id)
    assert (entry.attempt, entry.worker_id, entry.outcome) == (1, "test", LEASE_EXPIRED_OUTCOME)
    assert entry.error == error_summary(task.last_error)
    assert "no attempts left" in entry.error


@pytest.mark.needs("history", "lease_expiry", "task_records")
def test_a_stale_rescue_writes_no_history_and_one_without_history_keeps_it(
    basket: Basket,
) -> None:
    @basket.task(max_attempts=3)
    def job() -> None: ...

    ref = job.enqueue()
    [claimed] = claim(basket, lease=SHORT)
    _expire(basket)
    forged = LeaseRescue(Lease(ref.id, "forged"), RescueKind.REQUEUE, "stale", history="[]")
    assert basket.backend.leases_rescue(LeasesRescueParams([forged])) == [False]
    Rescuer(basket.backend).run_once()
    kept = basket.get(ref.id)
    assert kept is not None and len(_attempts(basket, ref.id)) == 1
    [again] = claim(basket, lease=SHORT)
    _expire(basket)
    plain = LeaseRescue(again.lease, RescueKind.REQUEUE, "requeued without a history")
    assert basket.backend.leases_rescue(LeasesRescueParams([plain])) == [True]
    task = basket.get(ref.id)
    assert task is not None and task.history == kept.history  # None: unchanged
    assert claimed.lease != again.lease
