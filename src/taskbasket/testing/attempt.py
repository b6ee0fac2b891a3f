"""One attempt of a claimed task run in the calling thread, as a worker would run it:
the same context, middleware, hooks, outcome rules and log lines, without the worker's
threads. ``drain`` and ``inline`` are built on it.

A sync handler cannot be stopped from its own thread, so one that runs past its
task's timeout finishes, and its attempt is then recorded as timed out (retried or
failed as a worker records it). An async handler is cancelled at its timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from taskbasket.backends.base import ClaimedTask, Outcome
from taskbasket.worker.durable import attach_steps
from taskbasket.worker.executors import TimedOut, call_async, call_sync, is_timeout
from taskbasket.worker.job import Job, JobPhase, error_outcome, success_outcome, timeout_outcome
from taskbasket.worker.progress import ProgressWriter
from taskbasket.worker.telemetry import Telemetry, WorkerStats

if TYPE_CHECKING:
    from taskbasket.basket import Basket


class LoopRunning(RuntimeError):
    """An async handler was to run from sync code inside a running event loop; raised
    before the attempt starts."""


class AttemptRunner:
    """Runs attempts of one basket's handlers in the calling thread; ``stats`` counts
    them as a worker's ``stats`` does."""

    def __init__(self, basket: Basket) -> None:
        self.basket = basket
        self.stats = WorkerStats()
        self.telemetry = Telemetry(basket.hooks, self.stats)
        self._progress: ProgressWriter | None = None

    @property
    def progress(self) -> ProgressWriter:
        """Where progress reports go, coalesced as a worker's (the store is opened on the
        first report)."""
        if self._progress is None:
            self._progress = ProgressWriter(self.basket.backend)
        return self._progress

    def job(self, claimed: ClaimedTask) -> Job:
        return Job(claimed, self.basket.get_definition(claimed.name))

    def run(self, job: Job) -> tuple[Outcome, BaseException | None]:
        """Run the attempt (an async handler on a new event loop); its outcome, and the
        exception it raised (None on success). Raises RuntimeError inside a running event
        loop for an async handler: await ``run_async`` there."""
        if job.definition.is_async:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return asyncio.run(self.run_async(job))
            raise LoopRunning(
                f"task {job.claimed.name} is async and an event loop is running in this "
                "thread: use `await drain_async(basket)` (or enqueue outside the loop)")
        self._begin(job)
        error = call_sync(job, self.basket.hooks.around, catching=Exception)
        if error is None and time.monotonic() > job.deadline:
            error = TimedOut()  # it could not be stopped: recorded as timed out after
        return self._end(job, error), error

    async def run_async(self, job: Job) -> tuple[Outcome, BaseException | None]:
        """Run the attempt on the running event loop (a sync handler runs in place)."""
        if not job.definition.is_async:
            return self.run(job)
        self._begin(job)
        error = await call_async(job, self.basket.hooks.around, catching=Exception)
        return self._end(job, error), error

    def _begin(self, job: Job) -> None:
        job.move(JobPhase.PENDING, JobPhase.RUNNING)
        if self.basket.inline_runner is None:  # an inline task is not stored: no progress
            job.reporter = self._report_progress(job)
            attach_steps(job, self.basket.backend, self.basket.max_result_bytes)
        self.stats.increment("claimed")
        self.telemetry.started(job)

    def _report_progress(self, job: Job) -> Callable[[float, float | None, str | None], None]:
        def report(done: float, total: float | None, note: str | None) -> None:
            self.progress.report(job.lease, done, total, note)

        return report

    def _end(self, job: Job, error: BaseException | None) -> Outcome:
        job.ended = time.monotonic()
        job.move(JobPhase.RUNNING, JobPhase.DONE)
        if job.steps is not None:
            job.steps.close()
        if self._progress is not None:
            self._progress.flush(job.lease)
        if error is None:
            return success_outcome(job, self.basket.max_result_bytes)
        if is_timeout(error):
            self.stats.increment("timed_out")
            return timeout_outcome(job)
        return error_outcome(job, error)


__all__ = ["AttemptRunner", "LoopRunning"]
