"""The claim loop: a worker claims tasks for its free slots plus at most ``prefetch``
more, which wait in the worker for a slot (bounded, so lazy claiming still holds across
workers), and waits on the store's listener when nothing more is due."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from taskbasket.backends.base import (
    Backend,
    ClaimedTask,
    ClaimOrder,
    ClaimParams,
    Listener,
    Outcome,
    OutcomeKind,
)
from taskbasket.runtime import Outage
from taskbasket.worker.dispatcher import Dispatcher
from taskbasket.worker.inflight import InFlight
from taskbasket.worker.inputs import InputsError, with_inputs
from taskbasket.worker.job import Job, JobPhase
from taskbasket.worker.limiter import ClaimLimiter
from taskbasket.worker.telemetry import WorkerStats

if TYPE_CHECKING:
    from taskbasket.basket import Basket

log = logging.getLogger("taskbasket.worker")


class Claimer:
    """Claims the tasks of ``basket``'s registered names into free slots and dispatches
    them. A task whose handler was unregistered between the claim's names and its
    result is handed back at once, unattempted."""

    def __init__(
        self, basket: Basket, backend: Backend, *, worker_id: str, queues: Sequence[str] | None,
        lease_seconds: float, order: ClaimOrder, poll_interval: float, inflight: InFlight,
        dispatcher: Dispatcher, stats: WorkerStats, outage: Outage, stopping: threading.Event,
        tick: Callable[[], None] = lambda: None,
    ) -> None:
        self.basket = basket
        self.backend = backend
        self.worker_id = worker_id
        self.queues = queues
        self.lease_seconds = lease_seconds
        self.order = order
        self.poll_interval = poll_interval
        self._inflight = inflight
        self._dispatcher = dispatcher
        self._stats = stats
        self._outage = outage
        self._stopping = stopping
        self._tick = tick  # the loop goes round: what /healthz reads (WorkerHealth.tick)
        self._limiter = ClaimLimiter(basket, backend)

    @property
    def names(self) -> list[str]:
        """The names claimed: those with a handler now, read at every claim."""
        return sorted(self.basket.registry)

    def claim_once(self) -> int:
        """Claim up to the free slots plus the prefetch room and hand the tasks that have
        a slot to executors (the others wait for one); how many claimed."""
        self.start_waiting()
        limit = self._inflight.claimable
        names = self.names
        if limit <= 0 or self._stopping.is_set() or not names:
            return 0
        with self._inflight.claiming():
            began = time.monotonic()
            claimed = self.backend.tasks_claim(ClaimParams(
                worker_id=self.worker_id, names=names, limit=limit,
                lease_seconds=self.lease_seconds, queues=self.queues, order=self.order,
                limits=self._limiter.limits(names),
            ))
            self._inflight.gauge.claim_took(time.monotonic() - began)
            self._limiter.served(claimed)
            jobs: list[Job] = []
            unregistered: list[ClaimedTask] = []
            unreadable: list[Outcome] = []
            for task in claimed:  # one look-up each: a handler may be unregistered meanwhile
                definition = self.basket.registry.get(task.name)
                if definition is None:
                    unregistered.append(task)
                    continue
                try:
                    jobs.append(Job(with_inputs(self.backend, task), definition,
                                    worker_id=self.worker_id))
                except InputsError as exc:
                    unreadable.append(Outcome(task.lease, OutcomeKind.FAILED, error=str(exc)))
            start = self._inflight.add(jobs)
        if unreadable:
            self.backend.tasks_finish(unreadable)
        self._stats.increment("claimed", len(jobs))
        for job in start:
            self._dispatcher.submit(job)
        if unregistered:
            self._hand_back(unregistered)
        if self._stopping.is_set():  # the stop's hand-back may have run during the claim
            self._release_prefetched()
        return len(jobs)

    def _release_prefetched(self) -> None:
        """Hand back the prefetched jobs at once, unattempted (the worker stops)."""
        jobs = [job for job in self._inflight.drop_waiting()
                if job.move(JobPhase.PENDING, JobPhase.RELEASED)]
        for job in jobs:
            self._inflight.forget(job)
        if jobs:
            self.backend.tasks_finish([Outcome(job.lease, OutcomeKind.RELEASED)
                                       for job in jobs])
            self._stats.increment("released", len(jobs))

    def start_waiting(self) -> None:
        """Start the prefetched jobs that free slots can take now."""
        if self._stopping.is_set():
            return
        for job in self._inflight.take_waiting():
            self._dispatcher.submit(job)

    def run(self, listener: Listener) -> None:
        """The claim loop, until the worker stops: wait until a claim may take a task (a
        free slot or prefetch room), claim, and sleep on ``listener`` (woken by new
        tasks, else after the poll interval) when fewer tasks were due than it asked
        for. Store errors are retried with backoff."""
        failures = 0
        while not self._stopping.is_set():
            self._tick()
            free = self._inflight.wait_for_free_slot(self._stopping, self.poll_interval,
                                                     self._tick)
            if self._stopping.is_set():
                return
            try:
                claimed = self.claim_once()
                failures = self._outage.recovered(failures, "claim")
                if claimed < free:  # nothing more is due: sleep until woken or the poll
                    listener.wait(self.poll_interval)
            except Exception as exc:  # a store outage, or a listener that lost its server
                failures = self._outage.failed(failures, "claim", exc)

    def _hand_back(self, tasks: list[ClaimedTask]) -> None:
        """Release claimed tasks whose handler was unregistered: queued again, unattempted."""
        self.backend.tasks_finish([Outcome(task.lease, OutcomeKind.RELEASED) for task in tasks])
        self._stats.increment("released", len(tasks))
        log.info("handed back %d claimed task(s) whose handler was unregistered: %s",
                 len(tasks), ", ".join(sorted({task.name for task in tasks})))
