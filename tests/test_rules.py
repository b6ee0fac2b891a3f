"""The rule book: pure decisions, the same for every store and bus."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from taskbasket.backends.base import ExpiredLease, Lease, Outcome, OutcomeKind, RescueKind
from taskbasket.history import AttemptEntry, read_history, with_attempt
from taskbasket.rules import BusStep, LostDelivery, bus_action, rescue_decision

LEASE = Lease("id", "token")


def _expired(attempts: int, max_attempts: int = 3) -> ExpiredLease:
    return ExpiredLease("id", "token", "job", "default", attempts, max_attempts)


def test_an_expired_lease_on_the_last_attempt_fails_else_requeues_after_the_backoff() -> None:
    last = rescue_decision(_expired(3), backoff=8.0)
    assert last.kind is RescueKind.FAIL and last.delay == 0.0
    assert "lease expired on attempt 3 of 3" in last.error and "failed" in last.error
    early = rescue_decision(_expired(1), backoff=8.0)
    assert early.kind is RescueKind.REQUEUE and early.delay == 8.0 and early.lease == LEASE
    assert "attempt 1 of 3" in early.error and "requeued" in early.error
    relayed = rescue_decision(_expired(0), backoff=8.0)  # the relay's claim: no attempt
    assert relayed.kind is RescueKind.REQUEUE and relayed.delay == 0.0
    assert "before any attempt" in relayed.error
    assert rescue_decision(_expired(1), backoff=-1).delay == 0.0


def test_an_expired_lease_with_the_stores_now_carries_the_lost_attempt_in_the_history() -> None:
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    ended = started + timedelta(minutes=5)
    earlier = with_attempt(None, AttemptEntry(1, "w-0", started, started, "retry", "boom"))
    lost = dataclasses.replace(_expired(2), worker_id="w-1", started_at=started,
                               history=earlier)
    decision = rescue_decision(lost, backoff=1.0, ended_at=ended)
    first, second = read_history(decision.history)
    assert first == AttemptEntry(1, "w-0", started, started, "retry", "boom")
    assert second == AttemptEntry(2, "w-1", started, ended, "lease_expired",
                                  decision.error)
    final = rescue_decision(dataclasses.replace(lost, attempts=3), ended_at=ended)
    assert final.kind is RescueKind.FAIL
    assert read_history(final.history)[-1].outcome == "lease_expired"  # type: ignore[union-attr]
    # no store clock, a relay's claim (no attempt) or a corrupt row: the history is kept
    assert rescue_decision(lost).history is None
    assert rescue_decision(dataclasses.replace(lost, attempts=0), ended_at=ended).history is None
    corrupt = dataclasses.replace(lost, corrupt="attempts is text")
    assert rescue_decision(corrupt, ended_at=ended).history is None
    unstarted = dataclasses.replace(lost, started_at=None, history=None)
    [only] = read_history(rescue_decision(unstarted, ended_at=ended).history)
    assert only.started_at == ended  # type: ignore[union-attr]


def test_bus_outcomes() -> None:
    now = 1000.0
    assert bus_action(Outcome(LEASE, OutcomeKind.SUCCEEDED), 2, 3, now).step is BusStep.ACK
    failed = bus_action(Outcome(LEASE, OutcomeKind.FAILED, error="boom"), 2, 3, now)
    assert (failed.step, failed.attempts, failed.error) == (BusStep.DEAD_LETTER, 2, "boom")
    retry = bus_action(Outcome(LEASE, OutcomeKind.RETRY, "later", retry_delay=5), 2, 3, now)
    assert (retry.step, retry.attempts, retry.error, retry.run_at) == (
        BusStep.PUBLISH, 2, "later", 1005.0)
    at = datetime(2030, 1, 1, tzinfo=UTC)
    assert bus_action(Outcome(LEASE, OutcomeKind.RETRY, "x", retry_at=at), 1, 3,
                      now).run_at == at.timestamp()
    back = bus_action(Outcome(LEASE, OutcomeKind.RELEASED), 2, 3, now)
    assert (back.step, back.attempts, back.error, back.run_at) == (BusStep.PUBLISH, 1, None,
                                                                   None)


def test_lost_deliveries_follow_the_poison_rule() -> None:
    for counts, step in ((True, BusStep.RUN), (False, BusStep.PUBLISH)):
        again = bus_action(LostDelivery(1, broker_counts=counts), 0, 3, 0.0)
        assert (again.step, again.attempts) == (step, 1)
        assert again.error is not None and "attempt 1 of 3" in again.error
        dead = bus_action(LostDelivery(3, broker_counts=counts), 0, 3, 0.0)
        assert (dead.step, dead.attempts) == (BusStep.DEAD_LETTER, 3)
        assert dead.error is not None and "no attempts left" in dead.error
