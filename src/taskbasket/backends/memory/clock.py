"""The clock of a memory store: the real one by default, or one a test moves by hand.

A clock gives the time as an aware UTC datetime (``now``) and as Unix seconds (``time``).
A clock that moves by hand (``taskbasket.testing.FakeClock``) also has
``on_advance(callback)``: the store registers a callback there, so that advancing the
clock wakes the store's idle workers, which then see the tasks that became due.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What a memory store reads the time from."""

    def now(self) -> datetime:
        """The time, an aware datetime in UTC."""
        ...

    def time(self) -> float:
        """The same time, in seconds since the Unix epoch."""
        ...


@runtime_checkable
class AdvancingClock(Clock, Protocol):
    """A clock that tells when it moves (a test's clock, moved by ``advance``)."""

    def on_advance(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each move; a bound method is held weakly."""
        ...


class SystemClock:
    """This host's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return time.time()


SYSTEM_CLOCK = SystemClock()
