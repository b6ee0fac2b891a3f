"""Leases, heartbeats, fencing and rescue, driven step by step at the Backend seam."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from taskbasket import Basket, State
from taskbasket.backends.base import (
    ClaimParams,
    LeaseExtendParams,
    Outcome,
    OutcomeKind,
)
from tests.conformance.test_enqueue import claim
from tests.helpers import maintain, wait_for


def _requeued(basket: Basket) -> list[str]:
    return [lease.id for lease in maintain(basket.backend).requeued]


def _failed(basket: Basket) -> list[str]:
    return [lease.id for lease in maintain(basket.backend).failed]


def _one_task(basket: Basket, **options: object) -> str:
    @basket.task(max_attempts=options.pop("max_attempts", 3))  # type: ignore[arg-type]
    def job() -> None: ...

    return job.options(**options).enqueue().id


@pytest.mark.needs("task_records")
def test_claim_sets_running_and_counts_an_attempt(basket: Basket) -> None:
    task_id = _one_task(basket)
    [claimed] = claim(basket, lease=30)
    assert claimed.id == task_id and claimed.attempts == 1
    task = basket.get(task_id)
    assert task is not None and task.state == "running" and task.attempts == 1
    assert task.started_at is not None and task.lease_expires_at is not None
    assert task.lease_expires_at > datetime.now(UTC) + timedelta(seconds=20)
    assert claim(basket) == []  # never handed out twice


def test_claim_respects_limit(basket: Basket) -> None:
    @basket.task
    def job(n: int) -> None: ...

    job.enqueue_many([(i,) for i in range(7)])
    assert len(claim(basket, limit=3)) == 3
    assert len(claim(basket, limit=3)) == 3
    assert len(claim(basket, limit=3)) == 1
    assert claim(basket, limit=0) == []


@pytest.mark.needs("task_records")
def test_outcomes_change_state(basket: Basket) -> None:
    @basket.task(max_attempts=5)
    def job(n: int) -> None: ...

    job.enqueue_many([(i,) for i in range(4)])
    a, b, c, d = claim(basket, limit=4)
    accepted = basket.backend.tasks_finish([
        Outcome(a.lease, OutcomeKind.SUCCEEDED),
        Outcome(b.lease, OutcomeKind.FAILED, error="boom"),
        Outcome(c.lease, OutcomeKind.RETRY, error="later", retry_delay=3600),
        Outcome(d.lease, OutcomeKind.RELEASED),
    ])
    assert accepted == [True, True, True, True]
    ta, tb, tc, td = (basket.get(t.id) for t in (a, b, c, d))
    assert ta and ta.state == "succeeded" and ta.finished_at is not None
    assert tb and tb.state == "failed" and tb.last_error == "boom" and tb.finished_at
    assert tc and tc.state == "retrying" and tc.last_error == "later"
    assert tc.run_at > datetime.now(UTC) + timedelta(minutes=50)
    assert td and td.state == "queued" and td.attempts == 0  # a release costs no attempt
    assert [t.id for t in claim(basket)] == [d.id]


@pytest.mark.needs("task_records")
def test_retry_at_an_absolute_time(basket: Basket) -> None:
    task_id = _one_task(basket)
    [claimed] = claim(basket)
    at = datetime.now(UTC) + timedelta(hours=3)
    basket.backend.tasks_finish([Outcome(claimed.lease, OutcomeKind.RETRY, "x", retry_at=at)])
    task = basket.get(task_id)
    assert task is not None and abs((task.run_at - at).total_seconds()) < 1


@pytest.mark.needs("task_records")
def test_heartbeat_extends_only_held_leases(basket: Basket) -> None:
    task_id = _one_task(basket)
    [claimed] = claim(basket, lease=5)
    before = basket.get(task_id).lease_expires_at  # type: ignore[union-attr]
    from taskbasket.backends.base import Lease

    held = basket.backend.leases_extend(LeaseExtendParams(
        [claimed.lease, Lease(task_id, "not-the-token")], lease_seconds=600))
    assert held == {task_id}
    after = basket.get(task_id).lease_expires_at  # type: ignore[union-attr]
    assert before is not None and after is not None and after > before + timedelta(minutes=5)
    assert basket.backend.leases_extend(
        LeaseExtendParams([Lease(task_id, "forged")], lease_seconds=600)) == set()


@pytest.mark.needs("task_records")
def test_an_outcome_sent_again_with_its_spent_lease_is_refused(basket: Basket) -> None:
    """A lease ends with the outcome it records: that outcome sent again (a duplicate
    report), or any other, is refused and changes nothing, for every kind, in a batch or
    alone; and the spent lease holds nothing to extend."""

    @basket.task(max_attempts=5)
    def job(n: int) -> None: ...

    kinds = len(OutcomeKind)
    job.enqueue_many([(i,) for i in range(kinds)])
    claimed = claim(basket, limit=kinds)
    outcomes = [Outcome(task.lease, kind, error="e", retry_delay=3600)
                for task, kind in zip(claimed, OutcomeKind, strict=True)]
    assert basket.backend.tasks_finish(outcomes) == [True] * kinds
    recorded = [basket.get(task.id) for task in claimed]
    assert basket.backend.tasks_finish(outcomes) == [False] * kinds
    for outcome in outcomes:
        assert basket.backend.tasks_finish([outcome]) == [False]
        assert basket.backend.tasks_finish(
            [Outcome(outcome.lease, OutcomeKind.SUCCEEDED)]) == [False]
    assert basket.backend.leases_extend(
        LeaseExtendParams([task.lease for task in claimed], 60)) == set()
    assert [basket.get(task.id) for task in claimed] == recorded


@pytest.mark.needs("lease_expiry", "task_records")
def test_expired_lease_is_rescued_and_old_holder_is_fenced(basket: Basket) -> None:
    task_id = _one_task(basket)
    [first] = claim(basket, lease=0.3)
    rescued = wait_for(lambda: _requeued(basket), 10, "lease to expire")
    assert rescued == [task_id]
    task = basket.get(task_id)
    assert task is not None and task.state == "queued" and task.attempts == 1
    assert task.last_error is not None and "lease expired" in task.last_error
    [second] = claim(basket, lease=30)
    assert second.id == task_id and second.attempts == 2
    assert second.lease_token != first.lease_token
    # the first holder comes back from a pause: it can neither heartbeat nor record
    assert basket.backend.leases_extend(LeaseExtendParams([first.lease], 30)) == set()
    assert basket.backend.tasks_finish(
        [Outcome(first.lease, OutcomeKind.FAILED, error="stale")]) == [False]
    assert basket.backend.tasks_finish([Outcome(second.lease, OutcomeKind.SUCCEEDED)]) == [True]
    final = basket.get(task_id)
    assert final is not None and final.state == "succeeded" and final.attempts == 2


@pytest.mark.needs("lease_expiry", "task_records")
def test_lease_expiry_on_last_attempt_fails_the_task(basket: Basket) -> None:
    task_id = _one_task(basket, max_attempts=1)
    claim(basket, lease=0.2)
    failed = wait_for(lambda: _failed(basket), 10, "lease to expire")
    assert failed == [task_id]
    task = basket.get(task_id)
    assert task is not None and task.state == "failed" and task.finished_at is not None
    assert "lease expired on attempt 1 of 1" in (task.last_error or "")
    assert claim(basket) == []


def test_claim_with_names_none_takes_every_name(basket: Basket) -> None:
    @basket.task
    def one() -> None: ...

    @basket.task(queue="other")
    def two() -> None: ...

    ids = {one.enqueue().id, two.enqueue().id}
    basket.enqueue("not_registered_here", strict=False)  # a name no handler of this basket knows
    taken = basket.backend.tasks_claim(ClaimParams(
        worker_id="relay", names=None, limit=10, lease_seconds=30))
    assert len(taken) == 3 and ids < {t.id for t in taken}
    assert basket.backend.tasks_claim(ClaimParams(
        worker_id="relay", names=[], limit=10, lease_seconds=30)) == []


@pytest.mark.needs("lease_expiry", "task_records")
def test_claim_without_counting_an_attempt(basket: Basket) -> None:
    """The relay's claim: a lease that costs no attempt, even when it expires."""
    task_id = _one_task(basket, max_attempts=1)
    [taken] = basket.backend.tasks_claim(ClaimParams(
        worker_id="relay", names=None, limit=1, lease_seconds=0.2, count_attempt=False))
    assert taken.id == task_id and taken.attempts == 0
    task = basket.get(task_id)
    assert task is not None and task.state == "running" and task.attempts == 0
    rescued = wait_for(lambda: _requeued(basket), 10, "lease to expire")
    assert rescued == [task_id]  # requeued, not failed: no attempt was used
    [again] = claim(basket)
    assert again.id == task_id and again.attempts == 1


@pytest.mark.needs("task_records")
def test_maintain_promotes_due_tasks(basket: Basket) -> None:
    task_id = _one_task(basket, delay=0.3)
    assert basket.get(task_id).state == "scheduled"  # type: ignore[union-attr]
    wait_for(lambda: maintain(basket.backend).promoted, 10, "promotion")
    assert basket.get(task_id).state == State.QUEUED  # type: ignore[union-attr]


def test_due_scheduled_task_is_claimable_before_promotion(basket: Basket) -> None:
    task_id = _one_task(basket, delay=0.2)
    claimed = wait_for(lambda: claim(basket), 10, "the task to come due")
    assert [t.id for t in claimed] == [task_id]


@pytest.mark.needs("task_records")
def test_cancelled_running_task_fences_its_worker(basket: Basket) -> None:
    task_id = _one_task(basket)
    [claimed] = claim(basket)
    assert basket.cancel(task_id) == 1
    assert basket.backend.leases_extend(LeaseExtendParams([claimed.lease], 30)) == set()
    assert basket.backend.tasks_finish([Outcome(claimed.lease, OutcomeKind.SUCCEEDED)]) == [False]
    assert basket.get(task_id).state == "cancelled"  # type: ignore[union-attr]
