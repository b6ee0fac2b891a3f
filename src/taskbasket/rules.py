"""The rule book: what an expired lease, a lost delivery and an attempt's outcome mean.

These are queue semantics, decided here once; stores and buses only apply the decisions.
A store gets them from the rescuer (:mod:`taskbasket.maintenance`) as
:class:`~taskbasket.backends.base.LeaseRescue` values; a bus adapter asks
:func:`bus_action` what to do with a delivery and executes the answer. Every function is
pure: no I/O, no clock of its own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from taskbasket.backends.base import (
    ExpiredLease,
    Lease,
    LeaseRescue,
    Outcome,
    OutcomeKind,
    RescueKind,
)
from taskbasket.history import AttemptEntry, error_summary, with_attempt

__all__ = [
    "LEASE_EXPIRED_OUTCOME", "BusAction", "BusStep", "LostDelivery", "bus_action",
    "corrupt_lease_error", "deferred", "expired_lease_fails", "lease_expired_error",
    "lost_attempt_history", "rescue_decision", "snooze_cap_error",
]


def deferred(lease: Lease, *, delay: float | None = None, at: datetime | None = None,
             snoozes_added: int = 0) -> Outcome:
    """The outcome that ends an attempt without costing one: the task waits ``scheduled``
    until ``at`` (or ``delay`` seconds after the store's now), its ``attempts`` as they
    were before the claim, its ``snoozes`` grown by ``snoozes_added``, its ``last_error``
    kept. ``raise Snooze`` makes one with ``snoozes_added=1``; a durable sleep, which is
    no snooze, makes one with 0. Stores apply it (``OutcomeKind.DEFERRED``) fenced by the
    lease, like every outcome; a bus cannot (the worker fails the attempt instead)."""
    return Outcome(lease, OutcomeKind.DEFERRED, retry_delay=max(0.0, delay or 0.0),
                   retry_at=at, snoozes_added=snoozes_added)


def snooze_cap_error(snoozes: int, max_snoozes: int) -> str | None:
    """None while a task may snooze once more (it snoozed ``snoozes`` times, fewer than
    ``max_snoozes``); else the error that fails it, naming the cap."""
    if snoozes < max_snoozes:
        return None
    return (f"Snooze: the task already snoozed {snoozes} times, its max_snoozes of "
            f"{max_snoozes}; this snooze passed the cap, so the task failed. Raise the cap "
            "with @basket.task(max_snoozes=...), or retry the task")



def expired_lease_fails(attempts: int, max_attempts: int) -> bool:
    """A lease that ran out on the task's last attempt ends it failed (a poison task that
    kills its workers must stop somewhere); with attempts left it runs again."""
    return attempts >= max_attempts


def lease_expired_error(attempts: int, max_attempts: int) -> str:
    """The error recorded when a lease runs out: the same words on every backend."""
    if attempts == 0:  # a claim that counted no attempt: the outbox relay's
        return ("lease expired before any attempt: the relay that held it died or stalled; "
                "the task was requeued")
    if expired_lease_fails(attempts, max_attempts):
        return (
            f"lease expired on attempt {attempts} of {max_attempts}: the worker died or "
            "stalled without heartbeats; no attempts left, so the task failed"
        )
    return (
        f"lease expired on attempt {attempts} of {max_attempts}: the worker died or "
        "stalled without heartbeats; the task was requeued"
    )


def corrupt_lease_error(expired: ExpiredLease) -> str:
    """The error recorded for an expired lease of a corrupt row: it is failed, not run."""
    return (f"StoreCorruptedError: task {expired.id} is corrupt in the store "
            f"({expired.corrupt}); its lease expired and it was failed instead of run "
            "again. Fix its row and retry it, or delete it")


LEASE_EXPIRED_OUTCOME = "lease_expired"
"""The outcome of a history's attempt entry for an attempt whose lease ran out."""


def lost_attempt_history(expired: ExpiredLease, error: str, ended_at: datetime) -> str | None:
    """The history of an expired lease's task with an entry for the lost attempt: its
    worker, start (``ended_at`` if the store kept none), end ``ended_at`` (the store's
    now), outcome ``lease_expired`` and ``error``'s summary. None (history unchanged) for
    a claim that counted no attempt (the relay's) or a corrupt row."""
    if expired.corrupt is not None or expired.attempts <= 0:
        return None
    entry = AttemptEntry(expired.attempts, expired.worker_id, expired.started_at or ended_at,
                         ended_at, LEASE_EXPIRED_OUTCOME, error_summary(error))
    return with_attempt(expired.history, entry)


def rescue_decision(expired: ExpiredLease, backoff: float = 0.0,
                    ended_at: datetime | None = None) -> LeaseRescue:
    """Fail or requeue one expired lease. A requeued task waits ``backoff`` seconds (the
    task's retry backoff, as after an exception), except after a claim that counted no
    attempt (the relay's), which is requeued due now. A lease of a corrupt row
    (``expired.corrupt``) fails with the reason: its counts cannot be trusted. With
    ``ended_at`` (the store's now), the decision carries the task's new history
    (:func:`lost_attempt_history`)."""
    if expired.corrupt is not None:
        return LeaseRescue(expired.lease, RescueKind.FAIL, corrupt_lease_error(expired))
    error = lease_expired_error(expired.attempts, expired.max_attempts)
    history = None if ended_at is None else lost_attempt_history(expired, error, ended_at)
    if expired_lease_fails(expired.attempts, expired.max_attempts):
        return LeaseRescue(expired.lease, RescueKind.FAIL, error, history=history)
    delay = max(0.0, backoff) if expired.attempts > 0 else 0.0
    return LeaseRescue(expired.lease, RescueKind.REQUEUE, error, delay, history)


# --------------------------------------------------------------------------- buses


class BusStep(enum.StrEnum):
    RUN = "run"
    """Hand the task to the worker for attempt ``attempts + 1``."""
    PUBLISH = "publish"
    """Publish the task again, then acknowledge the delivery."""
    DEAD_LETTER = "dead_letter"
    """Publish the task to its dead-letter queue, then acknowledge the delivery."""
    ACK = "ack"
    """Acknowledge the delivery: the task is done."""


@dataclass(frozen=True, slots=True)
class BusAction:
    """What a bus adapter does with one delivery of a task message.

    The message it publishes (PUBLISH, DEAD_LETTER) carries ``attempts`` and, where
    ``error`` is set, that ``last_error``; ``run_at`` (Unix seconds) is when a published
    message is due, None keeping the message's own. Publish first, acknowledge second: a
    crash in between runs the task twice, never zero times.
    """

    step: BusStep
    attempts: int
    error: str | None = None
    run_at: float | None = None


@dataclass(frozen=True, slots=True)
class LostDelivery:
    """A delivery whose earlier holders died or stalled mid-attempt: ``attempts`` attempts
    are spent, the lost ones included.

    ``broker_counts`` is True where the transport keeps that count without a new message
    (NATS JetStream's delivery count, the file transport's offsets file), so the task can
    run from this delivery; RabbitMQ's classic queues only flag a redelivery, so the
    message is published again carrying the count before it runs.
    """

    attempts: int
    broker_counts: bool


def bus_action(event: Outcome | LostDelivery, attempts: int, max_attempts: int,
               now: float) -> BusAction:
    """The action for a recorded outcome of attempt number ``attempts``, or for a lost
    delivery (``attempts`` is then ignored: the event carries the count).

    Outcomes: success acknowledges; a retry publishes the task due at its retry time
    with the attempt counted; a failure dead-letters it; a hand-back publishes it with
    the attempt not counted. A lost delivery on the last attempt dead-letters the task
    with the lease-expired error (the poison rule of :func:`expired_lease_fails`).
    """
    if isinstance(event, LostDelivery):
        spent = event.attempts
        error = lease_expired_error(spent, max_attempts)
        if expired_lease_fails(spent, max_attempts):
            return BusAction(BusStep.DEAD_LETTER, spent, error)
        return BusAction(BusStep.RUN if event.broker_counts else BusStep.PUBLISH, spent, error)
    if event.kind is OutcomeKind.SUCCEEDED:
        return BusAction(BusStep.ACK, attempts)
    if event.kind is OutcomeKind.FAILED:
        return BusAction(BusStep.DEAD_LETTER, attempts, event.error)
    if event.kind is OutcomeKind.RETRY:
        run_at = (event.retry_at.timestamp() if event.retry_at is not None
                  else now + event.retry_delay)
        return BusAction(BusStep.PUBLISH, attempts, event.error, run_at)
    if event.kind is OutcomeKind.DEFERRED:  # not counted, due later
        run_at = (event.retry_at.timestamp() if event.retry_at is not None
                  else now + event.retry_delay)
        return BusAction(BusStep.PUBLISH, max(0, attempts - 1), None, run_at)
    return BusAction(BusStep.PUBLISH, max(0, attempts - 1))  # RELEASED: not counted
