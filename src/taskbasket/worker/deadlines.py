"""The timeout watcher of sync attempts: abandons a thread's attempt that runs past its timeout.

Python cannot interrupt a thread, so the worker watches the deadline of every running sync
attempt and, when one passes, records the attempt as timed out and abandons its thread.
The watcher holds an attempt only while it runs: ``unwatch`` drops it the moment it
finishes, so a worker holds at most as many deadlines as it runs sync attempts, whatever
its throughput and the tasks' timeouts.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from taskbasket.worker.job import Job

IDLE_WAKE = 1.0
"""Seconds the watcher sleeps at least when no deadline comes sooner: attempts with a
timeout of a second or more never wake it."""


class DeadlineWatcher:
    """Tracks the deadlines of running sync attempts and calls ``on_expired`` past one.

    The watcher's thread sleeps until the earliest deadline it knows of, but no longer
    than the shortest timeout seen (at least ``IDLE_WAKE``), and ``watch`` wakes it only
    for a deadline earlier than that: a task with a shorter timeout than any seen so far,
    or one under ``IDLE_WAKE``. So starting and finishing an attempt cost a dict update
    each, not a thread wake-up; a finished attempt's deadline that passes wakes the
    thread once to find nothing expired.
    """

    def __init__(self, on_expired: Callable[[Job], None]) -> None:
        self._on_expired = on_expired
        self._cond = threading.Condition(threading.Lock())
        self._deadlines: dict[Job, float] = {}
        self._wake_at = math.inf  # when the waiting thread wakes on its own; -inf: awake
        self._shortest_timeout = math.inf  # of every attempt watched so far
        self._closed = False
        self.wakeups = 0
        """How many times the watcher's thread woke (a test proves it does not per task)."""

    def __len__(self) -> int:
        """The attempts watched now: the running sync attempts."""
        with self._cond:
            return len(self._deadlines)

    def watch(self, job: Job) -> None:
        """Watch a sync attempt that just started (its ``started`` is set)."""
        deadline = job.deadline
        with self._cond:
            self._deadlines[job] = deadline
            self._shortest_timeout = min(self._shortest_timeout, job.claimed.timeout)
            if deadline < self._wake_at:
                self._wake_at = deadline
                self._cond.notify()

    def unwatch(self, job: Job) -> None:
        """Forget an attempt that finished (or was abandoned); unknown jobs are ignored."""
        with self._cond:
            self._deadlines.pop(job, None)

    def expire_once(self, now: float | None = None) -> list[Job]:
        """Remove and return the attempts whose deadline is at or before ``now``."""
        with self._cond:
            return self._take_expired(time.monotonic() if now is None else now)

    def _take_expired(self, now: float) -> list[Job]:
        expired = [job for job, deadline in self._deadlines.items() if deadline <= now]
        for job in expired:
            del self._deadlines[job]
        return expired

    def run(self) -> None:
        """The watcher's loop, until ``close``: call ``on_expired`` for each overrun."""
        while True:
            with self._cond:
                if self._closed:
                    return
                now = time.monotonic()
                expired = self._take_expired(now)
                if not expired:
                    # A later attempt of the shortest timeout seen ends after now + that
                    # timeout, so its ``watch`` need not wake this thread.
                    earliest = min(self._deadlines.values(), default=math.inf)
                    self._wake_at = min(earliest,
                                        now + max(self._shortest_timeout, IDLE_WAKE))
                    wait = self._wake_at - now
                    self._cond.wait(None if math.isinf(wait) else wait)
                    self._wake_at = -math.inf  # awake: the next pass sees every deadline
                    self.wakeups += 1
                    continue
            for job in expired:
                self._on_expired(job)

    def close(self) -> None:
        """Stop the loop (``run`` returns) and drop every deadline."""
        with self._cond:
            self._closed = True
            self._deadlines.clear()
            self._cond.notify()
