"""What a worker's health probes read: when its claim loop last went round, and since when
the store has been failing.

The worker feeds a ``WorkerHealth`` from its loops (``tick``, ``store_answered``,
``store_failed``, ``stopping``); ``check`` turns that into a ``HealthReport`` against two
bounds. It only reads clocks and flags, so a probe costs the store nothing: the worker's
own calls are the evidence. The trade-off: a worker with nothing to do still ticks (its
claim loop wakes every poll interval), but a probe cannot tell a store that answers slowly
from one that answers, as long as the answers come within the bounds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_STALL_AFTER = 60.0
"""Seconds without a claim-loop round after which a worker is unhealthy."""
DEFAULT_STORE_DOWN_AFTER = 60.0
"""Seconds of failing store calls after which a worker is unhealthy."""


@dataclass(frozen=True)
class HealthReport:
    """One probe's answer: ``live`` (keep this process) and ``ready`` (it takes work now),
    with the figures behind them; ``as_dict`` is the JSON the endpoints return."""

    live: bool
    ready: bool
    status: str
    seconds_since_tick: float | None
    store_failing_seconds: float | None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "live": self.live, "ready": self.ready, "status": self.status,
            "seconds_since_tick": self.seconds_since_tick,
            "store_failing_seconds": self.store_failing_seconds,
            "problems": list(self.problems),
        }


class WorkerHealth:
    """The evidence of one worker's health, fed by the worker and read by probes.

    Thread-safe. ``stall_after`` bounds the time between two rounds of the claim loop
    (which goes round at least every poll interval, busy or idle); ``store_down_after``
    bounds how long store calls may fail in a row. Before ``started`` the stall is counted
    from this object's creation, so a worker stuck waiting for its store goes unhealthy too.
    """

    def __init__(
        self,
        *,
        stall_after: float = DEFAULT_STALL_AFTER,
        store_down_after: float = DEFAULT_STORE_DOWN_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not stall_after > 0 or not store_down_after > 0:
            raise ValueError(
                f"stall_after and store_down_after must be > 0 seconds, got {stall_after!r} "
                f"and {store_down_after!r}"
            )
        self.stall_after = float(stall_after)
        self.store_down_after = float(store_down_after)
        self._clock = clock
        self._lock = threading.Lock()
        self._created = clock()
        self._last_tick: float | None = None
        self._failing_since: float | None = None
        self._started = False
        self._stopping = False

    def started(self) -> None:
        """The worker's loops run: it may report ready."""
        with self._lock:
            self._started = True
            self._last_tick = self._clock()

    def tick(self) -> None:
        """The claim loop went round once."""
        now = self._clock()
        with self._lock:
            self._last_tick = now

    def store_answered(self) -> None:
        """A store call worked: any outage is over."""
        with self._lock:
            self._failing_since = None

    def store_failed(self) -> None:
        """A store call failed; the outage is counted from the first failure in a row."""
        now = self._clock()
        with self._lock:
            if self._failing_since is None:
                self._failing_since = now

    def stopping(self) -> None:
        """The worker is stopping: not ready any more, and still live while it drains (a
        liveness probe must not kill it during its grace period)."""
        with self._lock:
            self._stopping = True

    def check(self) -> HealthReport:
        """The report now: live unless stalled or the store failed past its bound."""
        now = self._clock()
        with self._lock:
            since_tick = now - (self._last_tick if self._last_tick is not None
                                else self._created)
            failing = None if self._failing_since is None else now - self._failing_since
            started, stopping = self._started, self._stopping
        problems = []
        if not stopping and since_tick > self.stall_after:
            what = "claim loop" if started else "worker start (waiting for the store?)"
            problems.append(f"the {what} has not gone round for {since_tick:.1f}s "
                            f"(bound {self.stall_after:g}s)")
        if not stopping and failing is not None and failing > self.store_down_after:
            problems.append(f"the store has failed every call for {failing:.1f}s "
                            f"(bound {self.store_down_after:g}s)")
        live = not problems
        ready = live and started and not stopping and failing is None
        if stopping:
            status = "stopping"
        elif not live:
            status = "unhealthy"
        elif not started:
            status = "starting"
        elif failing is not None:
            status = "store failing"
        else:
            status = "ok"
        return HealthReport(
            live=live, ready=ready, status=status,
            seconds_since_tick=round(since_tick, 3),
            store_failing_seconds=None if failing is None else round(failing, 3),
            problems=problems,
        )
