"""A clock that moves only when a test moves it, for the ``memory://`` store.

``Basket("memory://", clock=clock)`` makes the store read this clock; ``clock.advance(3600)``
then makes an hour's delays, retry backoffs, schedules and lease ends come due at once,
and wakes the store's idle workers so that they claim what came due.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from taskbasket.errors import ConfigurationError


class FakeClock:
    """A thread-safe clock that starts at ``start`` (default: this host's now) and moves
    forward by ``advance`` only."""

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime.now(UTC)
        elif start.tzinfo is None:
            raise ConfigurationError(
                f"FakeClock(start={start!r}) needs an aware datetime, e.g. "
                "datetime(2030, 1, 1, tzinfo=UTC)")
        self._seconds = start.timestamp()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], Callable[[], None] | None]] = []

    def now(self) -> datetime:
        """The clock's time, an aware datetime in UTC."""
        return datetime.fromtimestamp(self.time(), UTC)

    def time(self) -> float:
        """The clock's time in seconds since the Unix epoch."""
        with self._lock:
            return self._seconds

    def advance(self, seconds: float | timedelta) -> None:
        """Move the clock forward by ``seconds`` (a number, or a timedelta) and wake the
        stores that read it. A negative or non-finite amount is refused: time that runs
        back would revive leases and schedules that already ended."""
        amount = seconds.total_seconds() if isinstance(seconds, timedelta) else seconds
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise ConfigurationError(
                f"FakeClock.advance({seconds!r}): give a number of seconds or a timedelta")
        if not math.isfinite(amount) or amount < 0:
            raise ConfigurationError(
                f"FakeClock.advance({seconds!r}): the clock only moves forward, by a finite "
                "number of seconds >= 0")
        with self._lock:
            self._seconds += float(amount)
            callbacks = [ref() for ref in self._callbacks]
            self._callbacks = [ref for ref, cb in zip(self._callbacks, callbacks,
                                                      strict=True) if cb is not None]
        for callback in callbacks:  # outside the lock: a callback may read the clock
            if callback is not None:
                callback()

    def on_advance(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each ``advance``; a bound method (a store's) is held
        weakly, so a store that is gone is not kept alive by its clock."""
        ref: Callable[[], Callable[[], None] | None]
        if hasattr(callback, "__self__") and hasattr(callback, "__func__"):
            ref = weakref.WeakMethod(callback)
        else:
            def ref() -> Callable[[], None]:
                return callback
        with self._lock:
            self._callbacks.append(ref)

    def __repr__(self) -> str:
        return f"FakeClock({self.now().isoformat()})"
