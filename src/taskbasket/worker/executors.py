"""Where handlers run: sync handlers on threads, async handlers on one event loop.

An executor only runs a job's handler and reports back through the callbacks it was
given; the worker decides what the result means and records it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from taskbasket.context import TaskContext, _current
from taskbasket.definition import binding_failure
from taskbasket.pool import Pool
from taskbasket.typed import decode_call
from taskbasket.worker.job import Job, JobPhase

log = logging.getLogger("taskbasket.worker")

# (job, exception or None); called once per job that started, from the executor's thread
Finished = Callable[[Job, BaseException | None], None]
# (job): the job's handler is about to run
Started = Callable[[Job], None]
# the middleware around one execution
Around = Callable[[TaskContext], AbstractContextManager[None]]


def task_context(job: Job, headers: Mapping[str, str] | None = None) -> TaskContext:
    claimed = job.claimed
    return TaskContext(
        claimed.id, claimed.name, claimed.queue, claimed.attempts, claimed.max_attempts,
        headers or {}, job.reporter, job.cancel_signal,
    )


class ThreadExecutor:
    """Runs sync handlers on an auto-scaling :class:`~taskbasket.pool.Pool` of threads.

    Python cannot stop a thread, so a job that times out is abandoned: its thread keeps
    running the handler, its late result is discarded, and the pool puts a new thread in
    its place at once.
    """

    def __init__(
        self,
        min_threads: int,
        max_threads: int,
        idle_timeout: float,
        on_finished: Finished,
        on_started: Started,
        around: Around,
    ) -> None:
        self.pool = Pool(min_threads, max_threads, buffer=max_threads * 4,
                         idle_timeout=idle_timeout, name="taskbasket-thread")
        self.pool.run()
        self._on_finished = on_finished
        self._on_started = on_started
        self._around = around

    def submit(self, job: Job) -> None:
        if not self.pool.submit(self._run, job):
            raise RuntimeError("the thread pool refused a job: it is stopping or full")

    def _run(self, job: Job) -> None:
        if not job.move(JobPhase.PENDING, JobPhase.RUNNING):
            return  # released by a stopping worker, which recorded that
        job.thread = threading.current_thread()
        self._on_started(job)
        error = call_sync(job, self._around)
        self._on_finished(job, error)

    def abandon(self, job: Job) -> None:
        """The job overran: stop counting its thread, so a new one serves in its place."""
        if job.thread is not None:
            self.pool.abandon(job.thread)

    @property
    def abandoned_threads(self) -> int:
        return self.pool.abandoned_threads

    def shutdown(self) -> None:
        self.pool.stop(drain=False, timeout=5)


class AsyncExecutor:
    """Runs async handlers as tasks on one event loop in its own thread."""

    def __init__(self, on_finished: Finished, on_started: Started, around: Around) -> None:
        self._on_finished = on_finished
        self._on_started = on_started
        self._around = around
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._main, name="taskbasket-event-loop", daemon=True
        )
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._ready.set)
        self._loop.run_forever()
        with contextlib.suppress(Exception):
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def submit(self, job: Job) -> None:
        self._loop.call_soon_threadsafe(self._start, job)

    def _start(self, job: Job) -> None:
        if not job.move(JobPhase.PENDING, JobPhase.RUNNING):
            return  # released by a stopping worker, which recorded that
        self._on_started(job)
        job.async_task = self._loop.create_task(self._run(job))
        if job.cancelled:  # cancelled as it started, before ``cancel`` could see the task
            job.async_task.cancel(job.cancel_signal.reason)

    async def _run(self, job: Job) -> None:
        self._on_finished(job, await call_async(job, self._around))

    def cancel(self, job: Job) -> None:
        """Cancel the job's task (with the cancel's reason as the CancelledError's
        message, if its task was cancelled)."""
        task = job.async_task
        if task is not None:
            self._loop.call_soon_threadsafe(task.cancel, job.cancel_signal.reason)

    def shutdown(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


def call_sync(job: Job, around: Around,
              catching: type[BaseException] = BaseException) -> BaseException | None:
    """Run ``job``'s sync handler in this thread, inside its task context and ``around``
    (the middleware), its return value left on ``job.value``; the exception of type
    ``catching`` it raised (arguments that do not bind as an ArgumentsError), or None."""
    token = None
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    try:
        args, kwargs, headers = decode_call(
            job.definition.func, job.claimed.id, job.claimed.name, job.claimed.payload)
        context = task_context(job, headers)
        token = _current.set(context)
        with around(context):
            job.value = job.definition.func(*args, **kwargs)
    except catching as exc:  # the handler's failure is data here
        return _explained(job, exc, args, kwargs)
    finally:
        if token is not None:
            _current.reset(token)
    return None


async def call_async(job: Job, around: Around,
                     catching: type[BaseException] = BaseException) -> BaseException | None:
    """``call_sync`` for an async handler, awaited on the running loop and stopped at the
    task's timeout (``TimedOut``). A cancellation is returned as the error (the worker
    knows whether the lease was lost or it is stopping), unless ``catching`` is narrower
    than BaseException: then it propagates."""
    timeout = asyncio.timeout(job.claimed.timeout)
    token = None
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    try:
        args, kwargs, headers = decode_call(
            job.definition.func, job.claimed.id, job.claimed.name, job.claimed.payload)
        context = task_context(job, headers)
        token = _current.set(context)
        with around(context):
            async with timeout:
                job.value = await job.definition.func(*args, **kwargs)
    except asyncio.CancelledError as exc:
        if catching is not BaseException:
            raise
        return exc
    except TimeoutError as exc:
        return TimedOut() if timeout.expired() else exc
    except catching as exc:
        return _explained(job, exc, args, kwargs)
    finally:
        if token is not None:
            _current.reset(token)
    return None


def _explained(job: Job, exc: BaseException, args: list[Any],
               kwargs: dict[str, Any]) -> BaseException:
    """A TypeError of arguments that do not bind to the handler, as an ArgumentsError (the
    worker fails the task at once); any other exception as it is."""
    if not isinstance(exc, TypeError):
        return exc
    definition = job.definition
    return binding_failure(job.claimed.name, definition.func, exc, args, kwargs,
                           definition.arguments)


class TimedOut(Exception):
    """Marks an async attempt stopped by its task's timeout."""


def is_timeout(error: BaseException | None) -> bool:
    return isinstance(error, TimedOut)

