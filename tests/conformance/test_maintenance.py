"""The maintenance data operations at the Backend seam, on fabricated state.

Tasks are inserted and claimed through the backend; a claim with a lease of a few
hundredths of a second makes a task that is running with an expired lease, as a worker
that died leaves it (River's rescuer tests fabricate rows the same way).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from taskbasket import Basket, State
from taskbasket.backends.base import (
    ClaimedTask,
    Lease,
    LeaseExtendParams,
    LeaseRescue,
    LeasesExpiredParams,
    LeasesRescueParams,
    Outcome,
    OutcomeKind,
    PromoteParams,
    PruneParams,
    RescueKind,
)
from tests.conformance.test_enqueue import claim
from tests.helpers import wait_for

# the store operations of the core's maintenance; a bus redelivers and drops on its own
pytestmark = pytest.mark.needs("lease_expiry", "task_records")

SHORT = 0.05


def _expired(basket: Basket, count: int, limit: int = 1000) -> list[str]:
    """Wait until ``count`` leases have expired; their ids, as leases_expired lists them."""
    def found() -> list[str]:
        leases = basket.backend.leases_expired(LeasesExpiredParams(limit))
        return [lease.id for lease in leases] if len(leases) >= min(count, limit) else []

    return wait_for(found, 10, f"{count} leases to expire")


def _running_expired(basket: Basket, count: int, **options: object) -> list[ClaimedTask]:
    @basket.task(name="job", max_attempts=options.pop("max_attempts", 3))  # type: ignore[arg-type]
    def job(n: int) -> None: ...

    job.options(**options).enqueue_many([(i,) for i in range(count)])  # type: ignore[arg-type]
    claimed = claim(basket, limit=count, lease=SHORT)
    _expired(basket, count)
    return sorted(claimed, key=lambda t: t.id)


def test_leases_expired_lists_only_expired_leases_with_what_the_core_needs(
    basket: Basket,
) -> None:
    @basket.task(queue="emails", max_attempts=4)
    def send() -> None: ...

    @basket.task(queue="reports")
    def report() -> None: ...

    short = send.enqueue().id
    [dying] = claim(basket, names=["send"], lease=SHORT)
    report.enqueue()
    [alive] = claim(basket, names=["report"], lease=600)
    assert _expired(basket, 1) == [short]
    [lease] = basket.backend.leases_expired(LeasesExpiredParams())
    assert (lease.id, lease.lease_token, lease.name, lease.queue) == (
        short, dying.lease_token, "send", "emails")
    assert (lease.attempts, lease.max_attempts) == (1, 4)
    assert lease.lease == dying.lease
    assert basket.get(alive.id).state == State.RUNNING  # type: ignore[union-attr]
    assert basket.get(short).state == State.RUNNING  # type: ignore[union-attr]  # unchanged


def test_leases_expired_is_bounded(basket: Basket) -> None:
    _running_expired(basket, 5)
    assert len(basket.backend.leases_expired(LeasesExpiredParams(limit=2))) == 2
    assert len(basket.backend.leases_expired(LeasesExpiredParams(limit=10))) == 5
    assert basket.backend.leases_expired(LeasesExpiredParams(limit=0)) == []


def test_leases_rescue_requeues_delays_and_fails(basket: Basket) -> None:
    now_queued, delayed, failed = _running_expired(basket, 3)
    applied = basket.backend.leases_rescue(LeasesRescueParams([
        LeaseRescue(now_queued.lease, RescueKind.REQUEUE, "lost: requeued"),
        LeaseRescue(delayed.lease, RescueKind.REQUEUE, "lost: backoff", delay=3600),
        LeaseRescue(failed.lease, RescueKind.FAIL, "lost: failed"),
    ]))
    assert applied == [True, True, True]
    a, b, c = (basket.get(t.id) for t in (now_queued, delayed, failed))
    assert a and a.state == State.QUEUED and a.attempts == 1 and a.last_error == "lost: requeued"
    assert a.lease_expires_at is None
    assert b and b.state == State.RETRYING and b.last_error == "lost: backoff"
    assert b.run_at > datetime.now(UTC) + timedelta(minutes=50)
    assert c and c.state == State.FAILED and c.last_error == "lost: failed"
    assert c.finished_at is not None
    assert basket.backend.leases_expired(LeasesExpiredParams()) == []
    [again] = claim(basket)  # only the one requeued due now
    assert again.id == now_queued.id and again.attempts == 2
    # the holders of the rescued leases are fenced
    assert basket.backend.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in (
        now_queued, delayed, failed)]) == [False, False, False]


def test_leases_rescue_leaves_renewed_finished_and_reclaimed_leases_alone(
    basket: Basket,
) -> None:
    renewed, finished, reclaimed, forged = _running_expired(basket, 4)
    # the holder of `renewed` was only slow: its heartbeat lands before the rescue
    assert basket.backend.leases_extend(LeaseExtendParams([renewed.lease], 600)) == {renewed.id}
    assert basket.backend.tasks_finish([Outcome(finished.lease, OutcomeKind.SUCCEEDED)]) == [True]
    assert basket.backend.leases_rescue(LeasesRescueParams([
        LeaseRescue(reclaimed.lease, RescueKind.REQUEUE, "first rescue")])) == [True]
    [second] = claim(basket, lease=SHORT)  # another worker holds it now, under a new token
    assert second.id == reclaimed.id
    _expired(basket, 1)  # ... and its lease expired too
    decisions = [
        LeaseRescue(renewed.lease, RescueKind.FAIL, "stale decision"),
        LeaseRescue(finished.lease, RescueKind.FAIL, "stale decision"),
        LeaseRescue(reclaimed.lease, RescueKind.FAIL, "stale decision"),
        LeaseRescue(Lease(forged.id, "forged"), RescueKind.FAIL, "stale decision"),
        LeaseRescue(Lease("not-a-task", "x"), RescueKind.FAIL, "stale decision"),
    ]
    assert basket.backend.leases_rescue(LeasesRescueParams(decisions)) == [False] * 5
    states = {t.id: basket.get(t.id) for t in (renewed, finished, reclaimed, forged)}
    assert states[renewed.id].state == State.RUNNING  # type: ignore[union-attr]
    assert states[finished.id].state == State.SUCCEEDED  # type: ignore[union-attr]
    assert states[reclaimed.id].state == State.RUNNING  # type: ignore[union-attr]
    assert states[forged.id].state == State.RUNNING  # type: ignore[union-attr]
    assert all(t.last_error != "stale decision" for t in states.values() if t)
    assert basket.backend.leases_rescue(LeasesRescueParams([])) == []


def test_tasks_promote_moves_due_tasks_in_bounded_batches(basket: Basket) -> None:
    @basket.task
    def job(n: int) -> None: ...

    refs = job.options(delay=0.2).enqueue_many([(i,) for i in range(5)])
    later = job.options(delay=3600).enqueue(99).id
    due = max(basket.get(r.id).run_at for r in refs)  # type: ignore[union-attr]
    wait_for(lambda: basket.backend.now() > due, 10, "the tasks to come due")
    assert basket.backend.tasks_promote(PromoteParams(limit=2)) == 2
    assert basket.count(State.QUEUED) == 2 and basket.count(State.SCHEDULED) == 4
    assert basket.backend.tasks_promote(PromoteParams(limit=10)) == 3
    assert basket.backend.tasks_promote(PromoteParams(limit=10)) == 0
    assert basket.backend.tasks_promote(PromoteParams(limit=0)) == 0
    assert basket.get(later).state == State.SCHEDULED  # type: ignore[union-attr]
    # a retry that came due is promoted as well
    [task] = claim(basket, limit=1)
    basket.backend.tasks_finish([Outcome(task.lease, OutcomeKind.RETRY, "again")])
    assert basket.backend.tasks_promote(PromoteParams()) == 1
    assert basket.get(task.id).state == State.QUEUED  # type: ignore[union-attr]


def _finished(basket: Basket) -> dict[str, list[str]]:
    """Tasks that just ended in each final state, and one still queued."""
    @basket.task(max_attempts=1)
    def job(n: int) -> None: ...

    job.enqueue_many([(i,) for i in range(7)])
    tasks = claim(basket, limit=6)
    ok, failed, cancelled = tasks[:3], tasks[3:5], tasks[5:]
    basket.backend.tasks_finish(
        [Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in ok]
        + [Outcome(t.lease, OutcomeKind.FAILED, "boom") for t in failed])
    basket.cancel([t.id for t in cancelled])
    return {"succeeded": [t.id for t in ok], "failed": [t.id for t in failed],
            "cancelled": [t.id for t in cancelled]}


def test_tasks_prune_deletes_old_final_tasks_per_state_in_batches(basket: Basket) -> None:
    made = _finished(basket)
    young = {State.SUCCEEDED: 3600.0, State.FAILED: 3600.0, State.CANCELLED: 3600.0}
    assert basket.backend.tasks_prune(PruneParams(young)) == 0
    assert basket.backend.tasks_prune(PruneParams({})) == 0
    only_succeeded = PruneParams({State.SUCCEEDED: 0.0, State.FAILED: 3600.0}, limit=2)
    assert basket.backend.tasks_prune(only_succeeded) == 2
    assert basket.backend.tasks_prune(only_succeeded) == 1
    assert basket.backend.tasks_prune(only_succeeded) == 0
    assert all(basket.get(i) is None for i in made["succeeded"])
    assert all(basket.get(i) is not None for i in made["failed"] + made["cancelled"])
    # a non-final state is never pruned, whatever the params say
    everything = {s: 0.0 for s in State}
    assert basket.backend.tasks_prune(PruneParams(everything)) == 3
    assert basket.count() == 1 and basket.count(State.QUEUED) == 1
