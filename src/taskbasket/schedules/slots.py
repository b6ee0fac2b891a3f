"""The slots of a schedule: the instants it fires at, computed the same way on every host.

An interval (``every=``) fires at the multiples of itself since the Unix epoch, so every
worker agrees on its slots whenever it starts. A cron expression is read by cronsim
(five fields, or six with seconds first) on the wall clock of the schedule's time zone,
and each wall time becomes an instant once:

- a wall time in a skipped hour (spring forward) fires at the first instant after the gap,
  and the slots of the gap that land there fire there once;
- a wall time that the clock shows twice (fall back) fires at its first occurrence only.

Every instant is a UTC datetime in whole microseconds, so a store compares it exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from taskbasket.backends.schedule_params import from_micros, to_micros
from taskbasket.schedules.spec import ScheduleSpec

SEARCH_LIMIT = 10_000
"""Wall times looked at for one slot before giving up (a cron that never matches)."""


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def instant_of(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant wall time ``wall`` (naive) of ``zone`` fires at: its first
    occurrence, or for a wall time in a gap the first instant after the gap."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(first, zone) == wall:
        return first
    # in a gap: fold=1 reads it with the offset before the gap, fold=0 with the one after;
    # the gap's end lies between them, where the wall clock jumps past ``wall``
    low = int(wall.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    high = int(first.timestamp()) + 1
    low, high = min(low, high), max(low, high)
    while low < high:
        middle = (low + high) // 2
        if _wall(datetime.fromtimestamp(middle, UTC), zone) >= wall:
            high = middle
        else:
            low = middle + 1
    return datetime.fromtimestamp(low, UTC)


def _cron_walls(expression: str, start: datetime, reverse: bool) -> Iterator[datetime]:
    from cronsim import CronSim

    walls = CronSim(expression, start, reverse=reverse)
    for _ in range(SEARCH_LIMIT):
        try:
            yield next(walls)
        except StopIteration:
            return


def next_slot(spec: ScheduleSpec, after: datetime) -> datetime:
    """The first slot strictly after ``after``."""
    if spec.every is not None:
        interval = round(spec.every * 1_000_000)
        return from_micros((to_micros(after) // interval + 1) * interval)
    assert spec.cron is not None
    zone = spec.zone
    # a step back first: a wall time of the repeated hour, or of a gap, may fire after it
    start = _wall(after, zone).replace(microsecond=0) - timedelta(hours=3)
    for wall in _cron_walls(spec.cron, start, reverse=False):
        slot = instant_of(wall, zone)
        if slot > after:
            return slot
    raise ValueError(f"cron {spec.cron!r} has no slot after {after.isoformat()}")


def latest_slot(spec: ScheduleSpec, at: datetime) -> datetime | None:
    """The last slot at or before ``at`` (None if there is none near)."""
    if spec.every is not None:
        interval = round(spec.every * 1_000_000)
        return from_micros(to_micros(at) // interval * interval)
    assert spec.cron is not None
    zone = spec.zone
    # from a little after: a wall time in a gap fires after it
    start = _wall(at, zone).replace(microsecond=0) + timedelta(hours=3, microseconds=1)
    for wall in _cron_walls(spec.cron, start, reverse=True):
        slot = instant_of(wall, zone)
        if slot <= at:
            return slot
    return None


def slots_between(spec: ScheduleSpec, first: datetime, last: datetime,
                  limit: int) -> list[datetime]:
    """Up to ``limit`` slots from ``first`` (a slot) to ``last``, both included."""
    slots: list[datetime] = []
    slot = first
    while slot <= last and len(slots) < limit:
        slots.append(slot)
        slot = next_slot(spec, slot)
    return slots
