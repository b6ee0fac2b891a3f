"""The scheduler: every worker fires the due slots of the schedules it has handlers for.

Each pass lists the stored schedules, decides for each due one what its slots become (run,
skipped for overlap, or passed over by its catch-up rule) and has the store apply each
decision with ``schedules_fire``: a compare-and-set of the schedule's ``next_run_at`` and
the insert of the slot's task in one atomic step. However many workers decide the same
slot, one compare-and-set wins, so a slot runs once; a worker killed at any moment leaves
either the whole step done or none of it. "Now" is the store's clock, never this host's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

from taskbasket.backends.base import (
    Backend,
    NewTask,
    ScheduleFireParams,
    ScheduleListParams,
    StoredSchedule,
    StoredTask,
)
from taskbasket.maintenance.service import Service
from taskbasket.schedules.slots import latest_slot, next_slot
from taskbasket.schedules.spec import CatchUp, Overlap, Schedule

log = logging.getLogger("taskbasket.schedules")

CATCH_UP_LIMIT = 100
"""Missed slots that catch_up="all" runs per schedule per pass."""
LATE_AFTER = 10.0
"""Seconds after which a slot that did not fire counts as missed (for catch_up="none")."""
SHORTEST_WAIT = 0.02

MakeTask = Callable[[Schedule, datetime], NewTask]
"""The task of a schedule's slot (its arguments encoded, its options resolved)."""
Fired = Callable[[NewTask], None]
"""Told of each slot task this scheduler stored (the worker emits ``enqueued``)."""


@dataclass(frozen=True, slots=True)
class SchedulerReport:
    """What one pass did: (schedule, slot) pairs that ran, that overlap skipped, and that
    the catch-up rule passed over."""

    ran: list[tuple[str, datetime]] = field(default_factory=list)
    skipped: list[tuple[str, datetime]] = field(default_factory=list)
    missed: list[tuple[str, datetime]] = field(default_factory=list)


class Scheduler(Service):
    """Fires due slots of the schedules whose task is in ``names()``, every ``interval``
    seconds or sooner when a slot comes due earlier. ``now`` is the store's clock."""

    name = "scheduler"

    def __init__(self, backend: Backend, *, names: Callable[[], Collection[str]],
                 make_task: MakeTask, interval: float = 1.0, jitter: float = 0.1,
                 late_after: float = LATE_AFTER, catch_up_limit: int = CATCH_UP_LIMIT,
                 now: Callable[[], datetime] | None = None,
                 on_fired: Fired | None = None) -> None:
        super().__init__(interval, jitter=jitter)
        self.backend = backend
        self.names = names
        self.make_task = make_task
        self.late_after = late_after
        self.catch_up_limit = catch_up_limit
        self._now = now
        self.on_fired = on_fired
        self._soonest: float | None = None
        self._failing: dict[str, str] = {}

    def run_once(self) -> SchedulerReport:
        """One pass over the stored schedules."""
        report = SchedulerReport()
        known = set(self.names())
        rows = self.backend.schedules_list(ScheduleListParams())
        now = self._now() if self._now is not None else self.backend.now()
        soonest: float | None = None
        for row in rows:
            if row.paused or row.task_name not in known:
                continue
            if row.next_run_at > now:
                wait = (row.next_run_at - now).total_seconds()
                soonest = wait if soonest is None else min(soonest, wait)
                continue
            try:
                self._fire_due(row, now, report)
                self._failing.pop(row.name, None)
            except Exception as exc:
                if self.backend.is_transient(exc):
                    raise  # the store is away: the whole pass waits (``run`` logs it)
                if self._failing.get(row.name) != str(exc):  # e.g. arguments that no
                    log.exception("schedule %r could not fire", row.name)  # longer fit
                    self._failing[row.name] = str(exc)
        self._soonest = soonest
        return report

    def next_interval(self) -> float:
        interval = super().next_interval()
        if self._soonest is not None:
            interval = min(interval, self._soonest + SHORTEST_WAIT)
        return max(SHORTEST_WAIT, interval)

    def run(self, stopping: threading.Event) -> None:
        """Pass after pass until ``stopping`` is set; a failing store is logged once."""
        failing: str | None = None
        while not stopping.is_set():
            try:
                self.run_once()
                if failing is not None:
                    log.warning("the scheduler works again")
                failing = None
                wait = self.next_interval()
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                if message != failing:
                    log.warning("the scheduler failed, trying again: %s", message)
                failing = message
                wait = self.interval
            stopping.wait(wait)

    # ------------------------------------------------------------------ decisions

    def _fire_due(self, row: StoredSchedule, now: datetime, report: SchedulerReport) -> None:
        schedule = Schedule.of_row(row)
        spec = schedule.spec
        if schedule.catch_up == CatchUp.ALL:
            expected, pending = row.next_run_at, None
            for _ in range(self.catch_up_limit):
                following = next_slot(spec, expected)
                if pending is None:
                    pending = self._previous_pending(schedule)
                fired = self._fire(schedule, expected, following, expected, pending, report)
                if fired is None:
                    return
                pending = pending or fired
                if following > now:
                    return
                expected = following
            return
        latest = latest_slot(spec, now)
        if latest is None or latest < row.next_run_at:
            latest = row.next_run_at
        following = next_slot(spec, max(now, latest))
        if (schedule.catch_up == CatchUp.NONE
                and (now - latest).total_seconds() > self.late_after):
            if self.backend.schedules_fire(ScheduleFireParams(
                    schedule.name, row.next_run_at, following, latest)):
                report.missed.append((schedule.name, latest))
            return
        self._fire(schedule, row.next_run_at, following, latest,
                   self._previous_pending(schedule), report)

    def _fire(self, schedule: Schedule, expected: datetime, following: datetime,
              slot: datetime, pending: bool, report: SchedulerReport) -> bool | None:
        """Fire ``slot`` (or skip it, while the previous run is pending and overlap is
        "skip"); whether it ran, or None if another worker moved the schedule first."""
        skip = pending and schedule.overlap == Overlap.SKIP
        task = None if skip else self.make_task(schedule, slot)
        if not self.backend.schedules_fire(ScheduleFireParams(
                schedule.name, expected, following, slot, task=task, skipped=skip)):
            return None
        if skip:
            log.info("schedule %r skipped the slot %s: its previous run %s is not finished",
                     schedule.name, slot.isoformat(), schedule.last_task_id)
            report.skipped.append((schedule.name, slot))
            return False
        log.info("schedule %r fired the slot %s: task %s", schedule.name, slot.isoformat(),
                 task.id if task else "-")
        report.ran.append((schedule.name, slot))
        if task is not None and self.on_fired is not None:
            try:
                self.on_fired(task)
            except Exception:  # a hook's failure never undoes a fired slot
                log.exception("telling of schedule %r's task %s failed", schedule.name,
                              task.id)
        return True

    def _previous_pending(self, schedule: Schedule) -> bool:
        """Whether the schedule's last run is not final (only overlap="skip" asks)."""
        if schedule.overlap != Overlap.SKIP or schedule.last_task_id is None:
            return False
        task = self.backend.tasks_get(schedule.last_task_id)
        return isinstance(task, StoredTask) and not task.state.is_final
