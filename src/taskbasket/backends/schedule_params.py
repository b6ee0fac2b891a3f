"""The schedule records and parameters of the Backend seam.

A store keeps schedules as rows it does not interpret: ``spec`` and ``options`` are JSON
text that the core (``taskbasket.schedules``) writes and reads. The one thing a store
decides is atomic: ``schedules_fire`` moves a schedule's ``next_run_at`` from the value
the caller saw to the next one (a compare-and-set) and inserts the slot's task in the same
transaction, so a slot fires once however many workers try it. Times are UTC and whole
microseconds; a store keeps them exactly (a compare-and-set compares them for equality).
``taskbasket.backends.base`` re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from taskbasket.backends.params import NewTask


@dataclass(frozen=True, slots=True)
class StoredSchedule:
    """A schedule as stored. ``skipped`` counts the slots that overlap="skip" skipped."""

    name: str
    task_name: str
    spec: str
    """When it fires (the core's JSON: cron or interval, and time zone)."""
    options: str
    """What it runs and how (the core's JSON: arguments, overlap, catch-up)."""
    paused: bool
    next_run_at: datetime
    last_run_at: datetime | None
    last_task_id: str | None
    skipped: int


@dataclass(frozen=True, slots=True)
class ScheduleUpsertParams:
    """Insert the schedule ``name``, or update the one stored under that name.

    ``next_run_at`` is written when the schedule is new or its stored ``spec`` differs
    (a changed cron or interval takes effect from its next slot); otherwise the stored
    one stays. ``paused``, ``last_*`` and ``skipped`` of a stored schedule stay as they are.
    """

    name: str
    task_name: str
    spec: str
    options: str
    next_run_at: datetime


@dataclass(frozen=True, slots=True)
class ScheduleFireParams:
    """Move schedule ``name`` from ``expected_next_run_at`` to ``next_run_at``, only if it
    is stored, not paused, and its ``next_run_at`` is still ``expected_next_run_at``; and
    in the same atomic step insert ``task`` (if given; it then becomes ``last_task_id``
    and ``slot`` becomes ``last_run_at``) and add one to ``skipped`` if ``skipped``."""

    name: str
    expected_next_run_at: datetime
    next_run_at: datetime
    slot: datetime
    task: NewTask | None = None
    skipped: bool = False


@dataclass(frozen=True, slots=True)
class ScheduleListParams:
    """Schedules by name, ordered by name; ``names`` None lists every one."""

    names: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class SchedulePauseParams:
    """Set schedule ``name``'s ``paused`` flag; True if it is stored."""

    name: str
    paused: bool


@dataclass(frozen=True, slots=True)
class ScheduleDeleteParams:
    """Delete schedule ``name``; True if it was stored (its tasks stay)."""

    name: str


def to_micros(moment: datetime) -> int:
    """A UTC datetime as whole microseconds since the epoch (exact, for compare-and-set)."""
    from datetime import UTC

    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The UTC datetime of ``to_micros``."""
    from datetime import UTC, timedelta

    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))
