"""How a worker learns that a task it holds was cancelled: the store's ``cancel_listener``
wakes it (a NOTIFY, a pub/sub message, a wake-up socket, the memory store's condition),
and it then reads which of the tasks it holds are ``cancelled`` now, with the reason the
cancel stored as their ``last_error``. A store that cannot push (MySQL) gets a
``PollingListener``: the worker then reads its held tasks every ``POLL_INTERVAL`` seconds
while it holds any, so it learns of a cancel within about that long. What is done to the
attempt then is :meth:`Attempts.cancelled <taskbasket.worker.attempts.Attempts.cancelled>`'s.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from taskbasket.backends.base import Backend, Listener, ListParams, PollingListener, TaskFilter
from taskbasket.steering import DEFAULT_CANCEL_REASON
from taskbasket.task import CorruptTask, State
from taskbasket.worker.inflight import InFlight
from taskbasket.worker.job import Job, JobPhase

log = logging.getLogger("taskbasket.worker")

POLL_INTERVAL = 0.2
"""How often a worker on a store that cannot push cancels reads the tasks it holds."""
PUSHED_RECHECK = 2.0
"""A worker on a pushing store also reads them this often (a notification may be lost)."""
COALESCE = 0.01
"""After a wake-up, the next read waits at least this long (seconds)."""
FAILED_PAUSE = 1.0
"""The pause after a read that failed (the store is down: the heartbeat reports it)."""

Cancelled = Callable[[Job, str], None]
"""(job, reason): the task of a job this worker holds was cancelled."""


class CancelWatcher:
    """Watches the tasks a worker holds for cancels, on a thread of its own (``run``),
    from ``open`` (at the worker's start) until ``close`` (after its last outcome)."""

    def __init__(self, backend: Backend, inflight: InFlight, on_cancelled: Cancelled,
                 closing: threading.Event) -> None:
        self.backend = backend
        self._inflight = inflight
        self._on_cancelled = on_cancelled
        self._closing = closing
        self._listener: Listener | None = None

    @property
    def pushes(self) -> bool:
        """Whether the store pushes cancels to this worker (else it polls)."""
        return self._listener is not None and not isinstance(self._listener, PollingListener)

    def open(self) -> None:
        """Listen for cancels (before the first claim, so that none is missed)."""
        self._listener = self.backend.cancel_listener()

    def check_once(self) -> int:
        """Read which held tasks were cancelled and hand each to ``on_cancelled``; how
        many. No store call while the worker holds no task."""
        held = {job.claimed.id: job for job in self._inflight.jobs()
                if job.phase in (JobPhase.PENDING, JobPhase.RUNNING) and not job.cancelled}
        if not held:
            return 0
        rows = self.backend.tasks_list(ListParams(
            TaskFilter(ids=list(held), states=[State.CANCELLED]), limit=len(held),
            with_payload=False))
        found = 0
        for row in rows:
            job = held.get(row.id)
            if job is None or isinstance(row, CorruptTask):
                continue
            found += 1
            self._on_cancelled(job, row.last_error or DEFAULT_CANCEL_REASON)
        return found

    def run(self) -> None:
        """Wait for a cancel, or for the recheck interval, and check; until closing."""
        listener = self._listener
        if listener is None:
            return
        interval = PUSHED_RECHECK if self.pushes else POLL_INTERVAL
        while not self._closing.is_set():
            try:
                woken = listener.wait(interval)
                if not self._closing.is_set():
                    self.check_once()
                if woken:  # a burst of wake-ups (the memory store's): one read per gap
                    self._closing.wait(COALESCE)
            except Exception as exc:  # the store is down: the heartbeat reports it
                log.debug("the check for cancelled tasks failed: %s", exc)
                self._closing.wait(FAILED_PAUSE)

    def close(self) -> None:
        """Stop listening; ``run`` returns at once once ``closing`` is set."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
