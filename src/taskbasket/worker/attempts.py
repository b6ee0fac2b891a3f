"""What a worker does as an attempt starts, ends, overruns its timeout or is cut short by a
stop: free its slot, turn its result into an outcome (``worker/job.py`` decides which)
and hand that to the completer. Each attempt ends once: ``Job.move`` makes the first
ending win, and a late result of an abandoned attempt is discarded."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable

from taskbasket.backends.base import Outcome, OutcomeKind
from taskbasket.results import DEFAULT_MAX_RESULT_BYTES
from taskbasket.worker.completer import Completer
from taskbasket.worker.deadlines import DeadlineWatcher
from taskbasket.worker.dispatcher import Dispatcher
from taskbasket.worker.executors import is_timeout
from taskbasket.worker.inflight import InFlight
from taskbasket.worker.job import Job, JobPhase, error_outcome, success_outcome, timeout_outcome
from taskbasket.worker.progress import ProgressWriter
from taskbasket.worker.telemetry import Telemetry

log = logging.getLogger("taskbasket.worker")


class Attempts:
    """The ends of a worker's attempts. Executors call ``started`` and ``finished``; the
    deadline watcher (``deadlines``) calls ``overran``; the cancel watcher (``cancels``)
    calls ``cancelled``; ``stop`` calls ``hand_back`` and ``interrupt``."""

    def __init__(
        self, inflight: InFlight, completer: Completer, telemetry: Telemetry,
        dispatcher: Dispatcher, progress: ProgressWriter,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        slot_freed: Callable[[], None] = lambda: None,
    ) -> None:
        self.progress = progress
        self.max_result_bytes = max_result_bytes
        self._inflight = inflight
        self._completer = completer
        self._telemetry = telemetry
        self._dispatcher = dispatcher
        self._slot_freed = slot_freed  # starts a prefetched job in the slot (the claimer)
        self.deadlines = DeadlineWatcher(self.overran)

    def started(self, job: Job) -> None:
        """A handler starts, in the thread that will run it."""
        # (a process handler's reports come from its child over the pipe, through this)
        job.reporter = functools.partial(self.progress.report, job.lease)
        if job.definition.executor == "thread":
            self.deadlines.watch(job)
        self._telemetry.started(job)

    def finished(self, job: Job, error: BaseException | None) -> None:
        """A handler returned (``error`` None) or raised."""
        job.ended = time.monotonic()
        self._inflight.gauge.attempt_ran(job.ended - job.started)
        if job.definition.executor == "thread":
            self.deadlines.unwatch(job)
        if not job.move(JobPhase.RUNNING, JobPhase.DONE):
            self._telemetry.stats.increment("discarded")  # abandoned: already recorded
            return
        self._inflight.release_slot()
        self._slot_freed()
        if job.cancelled:  # whatever it returned or raised: the cancel took the lease
            self._inflight.forget(job)
            return
        if isinstance(error, asyncio.CancelledError):
            if job.lease_lost:
                self._inflight.forget(job)  # the store no longer holds it for us
                return
            error = RuntimeError("the task was cancelled while the worker was stopping")
        if job.reporter is not None:
            self.progress.flush(job.lease)  # the last report lands before the outcome
        if error is None:
            outcome = success_outcome(job, self.max_result_bytes)
        elif is_timeout(error):
            self._telemetry.stats.increment("timed_out")
            outcome = timeout_outcome(job)
        else:
            outcome = error_outcome(job, error)
        self._completer.record(job, outcome)

    def overran(self, job: Job) -> None:
        """A sync attempt ran past its timeout: record it as timed out, give up its thread."""
        if not job.move(JobPhase.RUNNING, JobPhase.ABANDONED):
            return
        if job.cancelled:  # it ignored its cancel: free the slot, record nothing
            self._inflight.release_slot()
            self._dispatcher.abandon(job)
            self._inflight.forget(job)
            self._slot_freed()
            return
        self._telemetry.stats.increment("timed_out")
        log.warning(
            "task %s (%s) ran past its timeout of %gs: attempt recorded as timed out; "
            "its thread is abandoned and replaced (Python cannot stop a thread)",
            job.claimed.id, job.claimed.name, job.claimed.timeout,
        )
        self._completer.record(job, timeout_outcome(job))
        self._inflight.release_slot()
        self._dispatcher.abandon(job)
        self._slot_freed()

    def cancelled(self, job: Job, reason: str) -> None:
        """The task of ``job`` was cancelled (the store took its lease): an attempt not
        started yet never starts; a running one is stopped where it can be (an async
        task cancelled, a child process killed) and told (``current_task().cancelled``).
        Nothing the attempt does after this is recorded."""
        job.lease_lost = True
        job.cancel_signal.set(reason)
        self._telemetry.cancelled(job, reason)
        if job.move(JobPhase.PENDING, JobPhase.RELEASED):
            if not self._inflight.discard_waiting(job):  # a prefetched job holds no slot
                self._inflight.release_slot()
                self._slot_freed()
            self._inflight.forget(job)
        elif job.phase is JobPhase.RUNNING:
            self._dispatcher.stop(job)

    def hand_back(self) -> None:
        """Release every job that has not started: queued again, without an attempt (the
        prefetched ones first: they hold no slot)."""
        for job in self._inflight.drop_waiting():
            if job.move(JobPhase.PENDING, JobPhase.RELEASED):
                self._completer.record(job, Outcome(job.lease, OutcomeKind.RELEASED))
        for job in self._inflight.jobs():
            if job.move(JobPhase.PENDING, JobPhase.RELEASED):
                self._completer.record(job, Outcome(job.lease, OutcomeKind.RELEASED))
                self._inflight.release_slot()

    def interrupt(self, jobs: list[Job], grace: float) -> None:
        """Record running ``jobs`` as failed attempts (retried by their policy), cancel
        the async ones and give up the threads of the sync ones."""
        for job in jobs:
            if not job.move(JobPhase.RUNNING, JobPhase.ABANDONED):
                continue
            if job.async_task is not None:
                self._dispatcher.cancel(job)
            if job.thread is not None:
                self._dispatcher.abandon(job)
            if job.cancelled:  # the cancel took the lease: nothing to record
                self._inflight.forget(job)
                continue
            error = RuntimeError(
                f"interrupted: the worker stopped and the task did not finish within "
                f"the {grace:g}s grace period"
            )
            self._completer.record(job, error_outcome(job, error))
