"""The book of a worker's attempts in flight: its free slots, the jobs it holds from
claim to recorded outcome, the prefetched jobs waiting for a slot, the outcomes waiting
to be recorded and the claims under way.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from taskbasket.worker.job import Job, JobPhase
from taskbasket.worker.prefetch import PrefetchGauge


class InFlight:
    """What a worker holds now, guarded by one condition shared by its threads.

    Every change that frees a slot or ends an attempt notifies the condition: the claim
    loop waits on it for a free slot, ``stop`` and the drain helper for work to end. A
    job leaves the book when its outcome is recorded (or, lease lost, it is forgotten).

    ``prefetch`` is how many claimed jobs may wait for a slot beyond those running (never
    more): while ``gauge`` says prefetching pays (tasks shorter than a claim's round
    trip), a claim may take the free slots plus the room left among them, so that the
    next tasks are already here when a slot frees, instead of one round trip away.
    """

    def __init__(self, concurrency: int, prefetch: int = 0,
                 gauge: PrefetchGauge | None = None) -> None:
        self._cond = threading.Condition()
        self._free = concurrency
        self.prefetch = prefetch
        self.gauge = gauge or PrefetchGauge()
        self._waiting: deque[Job] = deque()  # prefetched: held, leased, without a slot
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
    def claimable(self) -> int:
        """How many tasks a claim may take now: the free slots plus the prefetch room."""
        with self._cond:
            return self._claimable()

    def _claimable(self) -> int:
        prefetch = self.prefetch if self.gauge.active else 0
        return self._free + max(0, prefetch - len(self._waiting))

    def _claim_due(self) -> bool:
        """Whether to claim now: there is room, and at most half the prefetch is left
        waiting. Claiming for every freed slot would cost a round trip per task or two;
        claiming only once the prefetched jobs are gone would leave the slots idle for
        the claim's round trip. At half, the claim takes at least half the prefetch in
        one round trip while the other half keeps the slots busy."""
        prefetch = self.prefetch if self.gauge.active else 0
        return self._claimable() > 0 and 2 * len(self._waiting) <= prefetch

    @property
    def waiting(self) -> int:
        """Prefetched jobs waiting for a slot."""
        with self._cond:
            return len(self._waiting)

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

    def add(self, jobs: Iterable[Job]) -> list[Job]:
        """Hold newly claimed jobs: one slot each while slots are free, the rest wait for a
        slot (prefetched); returns those given a slot, to start now."""
        with self._cond:
            start: list[Job] = []
            for job in jobs:
                self._jobs[job.claimed.id] = job
                if self._free > 0 and not self._waiting:
                    self._free -= 1
                    start.append(job)
                else:
                    self._waiting.append(job)
            return start

    def take_waiting(self) -> list[Job]:
        """The prefetched jobs that free slots can start now (each takes its slot)."""
        with self._cond:
            start: list[Job] = []
            while self._waiting and self._free > 0:
                job = self._waiting.popleft()
                if job.phase is JobPhase.PENDING:  # not handed back meanwhile
                    self._free -= 1
                    start.append(job)
            if start:
                self._cond.notify_all()  # the prefetch room grew: the claim loop may claim
            return start

    def discard_waiting(self, job: Job) -> bool:
        """Take ``job`` out of the prefetched ones (its task was cancelled); whether it
        was one (then it held no slot)."""
        with self._cond:
            if job in self._waiting:
                self._waiting.remove(job)
                self._cond.notify_all()
                return True
            return False

    def drop_waiting(self) -> list[Job]:
        """The prefetched jobs, which no longer wait for a slot (the worker stops)."""
        with self._cond:
            jobs = list(self._waiting)
            self._waiting.clear()
            return jobs

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
        """How many tasks a claim may take (``claimable``), once a claim is due (see
        ``_claim_due``) or ``stopping`` is set; ``tick`` is called after each
        ``poll_interval`` waited (the worker is busy, not stalled)."""
        with self._cond:
            while not self._claim_due() and not stopping.is_set():
                self._cond.wait(poll_interval)
                tick()
            return self._claimable()

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
