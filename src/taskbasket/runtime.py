"""What the long-running processes (a worker, a relay) share: they stop on SIGTERM or
SIGINT, a second signal exits at once, and they ride out an outage of their store with
backoff, logged once per outage rather than at every retry.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType


def install_stop_signals(
    stopping: threading.Event, log: logging.Logger, stopping_message: str
) -> None:
    """Make SIGTERM and SIGINT set ``stopping``, logging ``stopping_message`` (formatted
    with the signal's number). A signal that arrives once ``stopping`` is set exits the
    process at once with status 128 + its number: leases then expire and their tasks run
    again, so nothing is lost. Call it from the main thread."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            log.warning("second signal: exiting at once; leases will expire")
            os._exit(128 + signum)
        log.info(stopping_message, signum)
        stopping.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def store_backoff(failures: int) -> float:
    """Seconds to wait after ``failures`` failed calls in a row: 0.1 s doubling to 5 s."""
    return min(5.0, 0.05 * 2.0 ** min(failures, 7))


class Outage:
    """The store errors of one process's loops, so that an outage is logged once.

    Each loop keeps its own count of consecutive failures and passes it in; ``failed``
    logs a loop's first failure, and a later one only if its error differs from the last
    logged, then waits out the backoff (cut short when ``stopping`` is set);
    ``recovered`` logs that a loop reaches the store again. Safe to call from several
    threads.
    """

    def __init__(
        self, log: logging.Logger, stopping: threading.Event,
        backoff: Callable[[int], float] = store_backoff,
        on_failure: Callable[[], None] = lambda: None,
        on_success: Callable[[], None] = lambda: None,
    ) -> None:
        self._log = log
        self._on_failure = on_failure  # e.g. WorkerHealth.store_failed
        self._on_success = on_success  # e.g. WorkerHealth.store_answered
        self._stopping = stopping
        self._backoff = backoff
        self._lock = threading.Lock()
        self._last_error: str | None = None

    def failed(self, failures: int, what: str, exc: Exception) -> int:
        """Log ``exc`` once per outage, back off, and return ``failures`` + 1."""
        failures += 1
        self._on_failure()
        message = f"{type(exc).__name__}: {exc}"
        with self._lock:
            new = failures == 1 or message != self._last_error
            self._last_error = message
        if new:
            self._log.warning("%s failed, retrying with backoff: %s", what, message)
        self._stopping.wait(self._backoff(failures))
        return failures

    def recovered(self, failures: int, what: str) -> int:
        """Log that ``what`` works again if it had failed; the new count (0)."""
        self._on_success()
        if failures:
            self._log.warning("%s works again after %d failed tries", what, failures)
            with self._lock:
                self._last_error = None
        return 0
