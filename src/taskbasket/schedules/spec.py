"""What a schedule is: when it fires (cron or interval, in a time zone) and what it runs.

``ScheduleSpec.of(...)`` checks what a caller passes (naming the field that is wrong) and
``Schedule`` is the record ``basket.schedules()`` returns. Both are stored as JSON text
that a store keeps without reading (``spec`` and ``options`` of a ``StoredSchedule``).
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from taskbasket.backends.base import StoredSchedule
from taskbasket.codec import encode_arguments
from taskbasket.errors import ConfigurationError

CRON_EXTRA_HINT = "pip install 'taskbasket[schedules]'"
MAX_EVERY = 3650 * 86_400.0
"""An interval of at most 10 years."""


class Overlap(enum.StrEnum):
    ALLOW = "allow"
    """Every slot runs, whether or not the previous run finished."""
    SKIP = "skip"
    """A slot is skipped (and counted in ``skipped``) while the previous run is not final."""


class CatchUp(enum.StrEnum):
    LATEST = "latest"
    """After downtime, one run for the most recent missed slot."""
    NONE = "none"
    """After downtime, no run for the missed slots."""
    ALL = "all"
    """After downtime, a run for each missed slot (at most 100 per schedule per pass)."""


def _choice(field: str, value: Any, kind: type[Overlap] | type[CatchUp]) -> str:
    try:
        return kind(value).value
    except ValueError:
        raise ConfigurationError(
            f"{field}={value!r} is unknown; choose one of "
            f"{', '.join(repr(m.value) for m in kind)}") from None


def check_overlap(value: Any) -> Overlap:
    return Overlap(_choice("overlap", value, Overlap))


def check_catch_up(value: Any) -> CatchUp:
    return CatchUp(_choice("catch_up", value, CatchUp))


def check_timezone(value: Any) -> ZoneInfo:
    """An IANA time zone such as ``Europe/Berlin``; ConfigurationError naming the field."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"timezone must be an IANA name such as 'Europe/Berlin', "
                                 f"got {value!r}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, e.g. "Europe"
        raise ConfigurationError(
            f"timezone={value!r} is not a known IANA time zone; use a name such as 'UTC', "
            "'Europe/Berlin' or 'America/New_York'") from None


def check_every(value: Any) -> float:
    """An interval in seconds (a number or a timedelta), at least one second."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ConfigurationError(
            f"every= takes seconds or a timedelta, got {type(value).__name__} {value!r}")
    if not math.isfinite(seconds) or seconds < 1:
        raise ConfigurationError(f"every={value!r} is under a second; the shortest interval "
                                 "is 1 second")
    if seconds > MAX_EVERY:
        raise ConfigurationError(f"every={value!r} is over 10 years")
    return round(seconds, 6)


def check_cron(expression: Any) -> str:
    """A cron expression of five fields, or six with seconds first, as cronsim reads it."""
    if not isinstance(expression, str) or not expression.strip():
        raise ConfigurationError(f"cron= must be an expression such as '*/5 * * * *', got "
                                 f"{expression!r}")
    try:
        from cronsim import CronSim, CronSimError
    except ImportError:
        raise ConfigurationError(
            f"cron= needs the cron library: {CRON_EXTRA_HINT} (every= works without it)"
        ) from None
    text = " ".join(expression.split())
    if len(text.split()) not in (5, 6):
        raise ConfigurationError(
            f"cron={expression!r} is invalid: it has {len(text.split())} fields; give five "
            "(minute hour day month weekday) or six with seconds first")
    try:
        CronSim(text, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise ConfigurationError(f"cron={expression!r} is invalid: {exc}") from None
    return text


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """When a schedule fires: ``cron`` or ``every`` (seconds), in ``timezone``."""

    cron: str | None
    every: float | None
    timezone: str

    @classmethod
    def of(cls, cron: Any = None, every: Any = None, timezone: Any = "UTC") -> ScheduleSpec:
        if (cron is None) == (every is None):
            raise ConfigurationError(
                "pass exactly one of cron= (an expression such as '0 3 * * *') and every= "
                f"(seconds or a timedelta); got {'both' if cron is not None else 'neither'}")
        check_timezone(timezone)
        if cron is not None:
            return cls(check_cron(cron), None, timezone)
        return cls(None, check_every(every), timezone)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def to_json(self) -> str:
        return json.dumps({"cron": self.cron, "every": self.every, "timezone": self.timezone},
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ScheduleSpec:
        data = json.loads(text)
        return cls(data.get("cron"), data.get("every"), data.get("timezone") or "UTC")

    def describe(self) -> str:
        return self.cron if self.cron is not None else f"every {self.every:g}s"


@dataclass(frozen=True, slots=True)
class ScheduleOptions:
    """What a schedule runs and how: the call's arguments, overlap and catch-up, and the
    queue of its task where it was written (for a run triggered by code that does not
    register the task)."""

    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    overlap: Overlap
    catch_up: CatchUp
    queue: str | None = None

    @classmethod
    def of(cls, task_name: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
           overlap: Any = Overlap.ALLOW, catch_up: Any = CatchUp.LATEST,
           queue: str | None = None) -> ScheduleOptions:
        if isinstance(args, str | bytes) or not isinstance(args, Sequence):
            raise ConfigurationError(f"args= must be a list or tuple, got {args!r}")
        if kwargs is not None and not isinstance(kwargs, Mapping):
            raise ConfigurationError(f"kwargs= must be a dict, got {kwargs!r}")
        options = cls(tuple(args), dict(kwargs or {}), check_overlap(overlap),
                      check_catch_up(catch_up), queue)
        encode_arguments(task_name, options.args, options.kwargs)  # JSON or a TypeError
        return options

    def to_json(self) -> str:
        return json.dumps({"args": list(self.args), "kwargs": dict(self.kwargs),
                           "overlap": self.overlap.value, "catch_up": self.catch_up.value,
                           "queue": self.queue}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ScheduleOptions:
        data = json.loads(text)
        return cls(tuple(data.get("args") or ()), dict(data.get("kwargs") or {}),
                   Overlap(data.get("overlap", "allow")),
                   CatchUp(data.get("catch_up", "latest")), data.get("queue"))


@dataclass(frozen=True, slots=True)
class Schedule:
    """A stored schedule as ``basket.schedules()`` shows it; times in its time zone.

    ``skipped`` counts the slots that ``overlap="skip"`` skipped.
    """

    name: str
    task: str
    cron: str | None
    every: timedelta | None
    timezone: str
    args: list[Any]
    kwargs: dict[str, Any]
    overlap: str
    catch_up: str
    paused: bool
    next_run_at: datetime
    last_run_at: datetime | None
    last_task_id: str | None
    skipped: int
    queue: str | None = None
    """The queue of the schedule's task where the schedule was written."""

    @classmethod
    def of_row(cls, row: StoredSchedule) -> Schedule:
        spec, options = ScheduleSpec.from_json(row.spec), ScheduleOptions.from_json(row.options)
        zone = spec.zone
        return cls(
            name=row.name, task=row.task_name, cron=spec.cron,
            every=None if spec.every is None else timedelta(seconds=spec.every),
            timezone=spec.timezone, args=list(options.args), kwargs=dict(options.kwargs),
            overlap=options.overlap.value, catch_up=options.catch_up.value, paused=row.paused,
            next_run_at=row.next_run_at.astimezone(zone),
            last_run_at=None if row.last_run_at is None else row.last_run_at.astimezone(zone),
            last_task_id=row.last_task_id, skipped=row.skipped, queue=options.queue,
        )

    @property
    def spec(self) -> ScheduleSpec:
        every = None if self.every is None else self.every.total_seconds()
        return ScheduleSpec(self.cron, every, self.timezone)

    def as_dict(self) -> dict[str, Any]:
        """Every field by name, times as ISO 8601 text and ``every`` in seconds (for JSON)."""
        return {
            "name": self.name, "task": self.task, "cron": self.cron,
            "every": None if self.every is None else self.every.total_seconds(),
            "timezone": self.timezone, "args": self.args, "kwargs": self.kwargs,
            "overlap": self.overlap, "catch_up": self.catch_up, "paused": self.paused,
            "next_run_at": self.next_run_at.isoformat(),
            "last_run_at": None if self.last_run_at is None else self.last_run_at.isoformat(),
            "last_task_id": self.last_task_id, "skipped": self.skipped, "queue": self.queue,
        }
