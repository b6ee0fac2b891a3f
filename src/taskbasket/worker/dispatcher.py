"""Where a worker's jobs go to run: the executors of its handlers, made at start."""

from __future__ import annotations

from collections.abc import Collection

from taskbasket.pool import Pool
from taskbasket.worker.executors import Around, AsyncExecutor, Finished, Started, ThreadExecutor
from taskbasket.worker.job import Job
from taskbasket.worker.processes import ProcessExecutor


class Dispatcher:
    """Owns a worker's executors and hands each job to the one its handler names.

    The thread executor always exists once ``open`` ran; the async and process executors
    only if a handler uses them.
    """

    def __init__(
        self, *, min_threads: int, max_threads: int, idle_timeout: float, processes: int,
        around: Around,
    ) -> None:
        self.min_threads = min_threads
        self.max_threads = max_threads
        self.idle_timeout = idle_timeout
        self.processes = processes
        self._around = around
        self._threads: ThreadExecutor | None = None
        self._async: AsyncExecutor | None = None
        self._processes: ProcessExecutor | None = None

    def open(self, executors: Collection[str], on_finished: Finished,
             on_started: Started) -> None:
        """Make the executors: threads, plus those named in ``executors`` ("async",
        "process"), each reporting through ``on_started`` and ``on_finished``."""
        self._threads = ThreadExecutor(
            self.min_threads, self.max_threads, self.idle_timeout, on_finished, on_started,
            self._around,
        )
        if "async" in executors:
            self._async = AsyncExecutor(on_finished, on_started, self._around)
        if "process" in executors:
            self._processes = ProcessExecutor(self.processes, on_finished, on_started,
                                              self._around)

    @property
    def pool(self) -> Pool:
        """The auto-scaling thread pool of sync handlers (made by ``open``)."""
        if self._threads is None:
            raise RuntimeError("the worker has not been started")
        return self._threads.pool

    @property
    def abandoned_threads(self) -> int:
        return self._threads.abandoned_threads if self._threads else 0

    @property
    def killed_children(self) -> int:
        return self._processes.killed_children if self._processes else 0

    def submit(self, job: Job) -> None:
        """Run the job on its handler's executor."""
        if job.definition.executor == "process":
            assert self._processes is not None
            self._processes.submit(job)
        elif job.definition.is_async:
            assert self._async is not None
            self._async.submit(job)
        else:
            assert self._threads is not None
            self._threads.submit(job)

    def cancel(self, job: Job) -> None:
        """Cancel an async job's task (nothing else can be stopped from outside)."""
        if self._async is not None:
            self._async.cancel(job)

    def stop(self, job: Job) -> None:
        """Stop a cancelled job where it runs: an async one's task is cancelled, a process
        one's child killed (its slot starts another); a thread cannot be stopped from
        outside, so a sync handler learns it from ``current_task().cancelled``."""
        if job.definition.executor == "process":
            if self._processes is not None:
                self._processes.cancel(job)
        elif job.definition.is_async:
            self.cancel(job)

    def abandon(self, job: Job) -> None:
        """Give up a sync job's thread: the pool puts a new one in its place."""
        if self._threads is not None:
            self._threads.abandon(job)

    def shutdown(self) -> None:
        """Stop every executor (jobs still running are abandoned)."""
        if self._threads is not None:
            self._threads.shutdown()
        if self._async is not None:
            self._async.shutdown()
        if self._processes is not None:
            self._processes.shutdown()
