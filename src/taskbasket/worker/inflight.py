"""The book of a worker's attempts in flight: its free slots, the jobs it holds from
claim to recorded outcome, the outcomes waiting to be recorded and the claims under way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from taskbasket.worker.job import Job, JobPhase


class InFlight:
    """What a worker holds now, guarded by one condition shared by its threads.

    Every change that frees a slot or ends an attempt notifies the condition: the claim
    loop waits on it for a free slot, ``stop`` and the drain helper for work to end. A
    job leaves the book when its outcome is recorded (or, lease lost, it is forgotten).
    """

    def __init__(self, concurrency: int) -> None:
        self._cond = threading.Condition()
        self._free = concurrency
        self._jobs: dict[str, Job] = {}
        self._pending_outcomes = 0  # handed to the completer, not yet recorded
        self._claiming = 0  # claims under way, whose tasks are not in the book yet

    # ------------------------------------------------------------------ reads

    @property
    def free(self) -> int:
        """Slots free now."""
        with self._cond:
            return self._free

    @property
    def pending_outcomes(self) -> int:
        with self._cond:
            return self._pending_outcomes

    def __len__(self) -> int:
        """Jobs held: claimed and not yet recorded as finished."""
        with self._cond:
            return len(self._jobs)

    def jobs(self) -> list[Job]:
        """The jobs held now."""
        with self._cond:
            return list(self._jobs.values())

    def leased(self) -> list[Job]:
        """The jobs held whose lease is not known to be lost: the heartbeat's."""
        with self._cond:
            return [job for job in self._jobs.values() if not job.lease_lost]

    def busy(self) -> bool:
        """True while a job is held, an outcome waits to be recorded or a claim is under
        way."""
        with self._cond:
            return bool(self._jobs) or self._pending_outcomes > 0 or self._claiming > 0

    # ------------------------------------------------------------------ changes

    @contextmanager
    def claiming(self) -> Iterator[None]:
        """Count a claim as under way while the block runs (``add`` its jobs inside)."""
        with self._cond:
            self._claiming += 1
        try:
            yield
        finally:
            with self._cond:
                self._claiming -= 1

    def add(self, jobs: Iterable[Job]) -> None:
        """Hold newly claimed jobs, one slot each."""
        with self._cond:
            for job in jobs:
                self._jobs[job.claimed.id] = job
                self._free -= 1

    def release_slot(self) -> None:
        """A job stopped running (its job stays held until its outcome is recorded)."""
        with self._cond:
            self._free += 1
            self._cond.notify_all()

    def forget(self, job: Job) -> None:
        """Drop a job whose outcome will never be recorded (its lease was lost)."""
        with self._cond:
            self._jobs.pop(job.claimed.id, None)
            self._cond.notify_all()

    def outcome_queued(self) -> None:
        """An outcome was handed to the completer."""
        with self._cond:
            self._pending_outcomes += 1

    def outcomes_recorded(self, jobs: Iterable[Job]) -> None:
        """The completer is done with the outcomes of ``jobs`` (one each): drop them."""
        with self._cond:
            for job in jobs:
                self._jobs.pop(job.claimed.id, None)
                self._pending_outcomes -= 1
            self._cond.notify_all()

    # ------------------------------------------------------------------ waits

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for a change (or ``wake_all``)."""
        with self._cond:
            self._cond.wait(timeout)

    def wake_all(self) -> None:
        """Wake every waiter, so that it checks its condition (a stop) again."""
        with self._cond:
            self._cond.notify_all()

    def wait_for_free_slot(
        self, stopping: threading.Event, poll_interval: float,
        tick: Callable[[], None] = lambda: None,
    ) -> int:
        """The free slots, once there is one or ``stopping`` is set; ``tick`` is called
        after each ``poll_interval`` waited (the worker is busy, not stalled)."""
        with self._cond:
            while self._free <= 0 and not stopping.is_set():
                self._cond.wait(poll_interval)
                tick()
            return self._free

    def wait_while_running(self, deadline: float) -> list[Job]:
        """Wait until no job runs or ``time.monotonic()`` passes ``deadline``; the jobs
        still running."""
        with self._cond:
            while self._running() and time.monotonic() < deadline:
                self._cond.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            return [job for job in self._jobs.values() if job.phase is JobPhase.RUNNING]

    def wait_for_outcomes(self, deadline: float) -> int:
        """Wait until every outcome handed over is recorded or ``time.monotonic()``
        passes ``deadline``; how many are left."""
        with self._cond:
            while self._pending_outcomes and time.monotonic() < deadline:
                self._cond.wait(0.05)
            return self._pending_outcomes

    def _running(self) -> bool:
        return any(job.phase is JobPhase.RUNNING for job in self._jobs.values())
