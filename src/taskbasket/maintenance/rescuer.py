"""The rescuer: tasks whose worker died (their lease expired) run again, or end failed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from taskbasket.backends.base import (
    Backend,
    ExpiredLease,
    LeaseRescue,
    LeasesExpiredParams,
    LeasesRescueParams,
    RescueKind,
)
from taskbasket.events import Event, EventKind, Hooks
from taskbasket.maintenance.service import Service
from taskbasket.rules import rescue_decision

task_log = logging.getLogger("taskbasket.tasks")

RESCUE_BATCH = 1000

Backoff = Callable[[ExpiredLease], float]
"""Seconds a requeued task waits: the retry backoff of its task, where it is known."""


@dataclass(frozen=True, slots=True)
class RescueReport:
    """What one rescue did: the leases requeued and failed (those another process
    rescued, or whose holder renewed meanwhile, are in neither)."""

    requeued: list[ExpiredLease] = field(default_factory=list)
    failed: list[ExpiredLease] = field(default_factory=list)


def no_backoff(expired: ExpiredLease) -> float:
    return 0.0


class Rescuer(Service):
    """Finds up to ``batch`` expired leases per run, decides each one's fate with
    :func:`taskbasket.rules.rescue_decision` (the last attempt fails, any other is
    requeued after ``backoff``; each lost attempt gets an entry in its task's history),
    and has the store apply the decisions, fenced by the lease token. Every applied rescue
    is logged and emitted to ``hooks`` as a ``lease_expired`` event (and a failed one as
    ``failed`` too), with its task's name and queue, so metrics count it."""

    name = "rescuer"

    def __init__(self, backend: Backend, *, hooks: Hooks | None = None,
                 backoff: Backoff = no_backoff, interval: float = 1.0,
                 batch: int = RESCUE_BATCH, jitter: float = 0.1) -> None:
        super().__init__(interval, jitter=jitter)
        self.backend = backend
        self.hooks = hooks
        self.backoff = backoff
        self.batch = batch

    def run_once(self) -> RescueReport:
        """Rescue one batch of expired leases."""
        expired = self.backend.leases_expired(LeasesExpiredParams(self.batch))
        if not expired:
            return RescueReport()
        ended_at = self.backend.now()  # the lost attempts' end, on the store's clock
        decisions = [rescue_decision(lease, self._backoff(lease), ended_at)
                     for lease in expired]
        applied = self.backend.leases_rescue(LeasesRescueParams(decisions))
        report = RescueReport()
        for lease, decision, done in zip(expired, decisions, applied, strict=True):
            if done:
                failed = decision.kind is RescueKind.FAIL
                (report.failed if failed else report.requeued).append(lease)
                self._tell(lease, decision)
        return report

    def _backoff(self, lease: ExpiredLease) -> float:
        try:
            return self.backoff(lease)
        except Exception:  # a user's backoff policy that raises: requeue without a wait
            task_log.exception("the backoff of task %s (%s) raised; requeued without one",
                               lease.id, lease.name)
            return 0.0

    def _tell(self, lease: ExpiredLease, decision: LeaseRescue) -> None:
        fields: dict[str, object] = {"task_id": lease.id, "task_name": lease.name,
                                     "queue": lease.queue, "attempt": lease.attempts}
        failed = decision.kind is RescueKind.FAIL
        if failed:
            task_log.error("task %s (%s): %s", lease.id, lease.name, decision.error,
                           extra=fields)
        else:
            task_log.warning("task %s (%s): %s", lease.id, lease.name, decision.error,
                             extra=fields)
        hooks = self.hooks
        if hooks is None:
            return
        next_run = None if failed else datetime.now(UTC) + timedelta(seconds=decision.delay)
        common = (lease.id, lease.name, lease.queue, lease.attempts, lease.max_attempts)
        if hooks.wants(EventKind.LEASE_EXPIRED):
            hooks.emit(Event(EventKind.LEASE_EXPIRED, *common, error=decision.error,
                             next_run_at=next_run,
                             retry_delay=None if failed else decision.delay))
        if failed and hooks.wants(EventKind.FAILED):
            hooks.emit(Event(EventKind.FAILED, *common, error=decision.error))
