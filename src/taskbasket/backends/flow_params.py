"""Flow control's parameter and record types: rates, limits, and a queue's stored settings.

The core decides which limits apply (a task's from its declaration, a queue's from the
store) and passes them in ``ClaimParams.limits``; a store claims atomically under them,
applying the one rule in ``backends.admission``. A queue's settings are a row in the
store, written by ``queues_update`` and read by ``queues_list``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from taskbasket.errors import ConfigurationError

PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}
"""The unit of a rate and its length in seconds."""

_RATE = re.compile(r"^\s*(\d+)\s*/\s*([smh])\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` starts in any window of ``period`` seconds."""

    count: int
    period: float

    def __str__(self) -> str:
        unit = next(u for u, seconds in PERIODS.items() if seconds == self.period)
        return f"{self.count}/{unit}"


def parse_rate(field_name: str, value: Any) -> Rate | None:
    """A rate written ``"N/s"``, ``"N/m"`` or ``"N/h"`` (N at least 1), a ``Rate``, or
    None (no limit); ConfigurationError names ``field_name`` otherwise."""
    if value is None or isinstance(value, Rate):
        return value
    match = _RATE.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) < 1:
        raise ConfigurationError(
            f"{field_name} must be written 'N/s', 'N/m' or 'N/h' with N at least 1 "
            f"(e.g. '10/s'), or None for no limit; got {value!r}")
    return Rate(int(match.group(1)), PERIODS[match.group(2)])


def check_concurrency(field_name: str, value: Any) -> int | None:
    """A concurrency limit (an int of at least 1) or None; ConfigurationError otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"{field_name} must be a whole number of at least 1 (how many may run at once), "
            f"or None for no limit; got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class FlowLimit:
    """At most ``concurrency`` running at once (a claimed task counts while its lease
    is live) and at most ``rate`` starts per window; None is no limit."""

    concurrency: int | None = None
    rate: Rate | None = None

    @property
    def binds(self) -> bool:
        return self.concurrency is not None or self.rate is not None


GroupKey = tuple[str, str, str | None]
"""What a limit counts: ("queue", queue, None) for a queue's, ("task", name, limit_key)
for a task's (limit_key None: the task name as a whole)."""


def queue_group(queue: str) -> GroupKey:
    return ("queue", queue, None)


def task_group(name: str, limit_key: str | None) -> GroupKey:
    return ("task", name, limit_key)


def group_text(group: GroupKey) -> str:
    """A group as one string, for stores that keep start records under a key."""
    kind, name, key = group
    return f"{kind}\x1f{name}\x1f{'' if key is None else '=' + key}"


@dataclass(frozen=True, slots=True)
class ClaimLimits:
    """The limits a claim must respect, and the keys this worker served last.

    ``queues`` maps a queue to its limit (the whole queue); ``tasks`` maps a task name
    to its limit, which applies per ``limit_key`` value (or to the name as a whole for
    tasks without a key). ``recent`` lists the task groups this worker claimed lately,
    most recent last: they go after the others, so keys take a worker's slots in turn.
    """

    queues: Mapping[str, FlowLimit] = field(default_factory=dict)
    tasks: Mapping[str, FlowLimit] = field(default_factory=dict)
    recent: Sequence[GroupKey] = ()

    @property
    def binds(self) -> bool:
        return any(limit.binds for limit in (*self.queues.values(), *self.tasks.values()))

    @property
    def rated(self) -> bool:
        return any(limit.rate is not None
                   for limit in (*self.queues.values(), *self.tasks.values()))


@dataclass(frozen=True, slots=True)
class StoredQueue:
    """A queue's settings as stored (rate as written, e.g. "10/s")."""

    name: str
    paused: bool = False
    concurrency: int | None = None
    rate_limit: str | None = None

    def limit(self) -> FlowLimit:
        return FlowLimit(self.concurrency, parse_rate("rate_limit", self.rate_limit))


QUEUE_FIELDS = ("paused", "concurrency", "rate_limit")


@dataclass(frozen=True, slots=True)
class QueueUpdateParams:
    """Create queue ``name``'s row if it has none, and set the fields in ``changes``
    (keys among ``QUEUE_FIELDS``), leaving the others as they are, in one atomic step."""

    name: str
    changes: Mapping[str, Any]

    def __post_init__(self) -> None:
        unknown = set(self.changes) - set(QUEUE_FIELDS)
        if unknown:
            raise ValueError(f"unknown queue fields {sorted(unknown)}")

    def applied_to(self, queue: StoredQueue | None) -> StoredQueue:
        """The queue's settings after the update (for stores that write whole rows)."""
        base = queue if queue is not None else StoredQueue(self.name)
        return StoredQueue(
            self.name,
            bool(self.changes.get("paused", base.paused)),
            self.changes.get("concurrency", base.concurrency),
            self.changes.get("rate_limit", base.rate_limit),
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A due task a limited claim may take, as a store reads it."""

    id: str
    name: str
    queue: str
    limit_key: str | None
