"""Times as the Redis store keeps them: integer microseconds since the epoch (Redis's
``TIME`` is the one clock), at most 16 digits, as the ready sets' members hold them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_US = 10**16 - 1
"""The ready sets' members hold run_at in 16 digits (until year 2286)."""
_MICROSECOND = timedelta(microseconds=1)


def moment_us(moment: datetime) -> int:
    """A moment in microseconds since the epoch, clamped to what the store can hold."""
    return min(MAX_US, max(0, (moment - EPOCH) // _MICROSECOND))


def seconds_us(seconds: float) -> int:
    """A duration in whole microseconds, clamped to what the store can hold."""
    return min(MAX_US, max(0, round(seconds * 1_000_000)))


def from_us(value: Any) -> datetime:
    """A stored microsecond count as a moment."""
    return EPOCH + timedelta(microseconds=int(value))


def optional_from_us(value: Any) -> datetime | None:
    return None if value is None else from_us(value)


__all__ = ["EPOCH", "MAX_US", "from_us", "moment_us", "optional_from_us", "seconds_us"]
