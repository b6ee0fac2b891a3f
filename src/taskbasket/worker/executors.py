"""Where handlers run: sync handlers on threads, async handlers on one event loop.

An executor only runs a job's handler and reports back through the callbacks it was
given; the worker decides what the result means and records it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable

from taskbasket.codec import decode_arguments
from taskbasket.context import TaskContext, _current
from taskbasket.worker.job import Job, JobPhase

log = logging.getLogger("taskbasket.worker")

# (job, exception or None); called once per job that started, from the executor's thread
Finished = Callable[[Job, BaseException | None], None]


def _context(job: Job) -> TaskContext:
    claimed = job.claimed
    return TaskContext(
        claimed.id, claimed.name, claimed.queue, claimed.attempts, claimed.max_attempts
    )


class ThreadExecutor:
    """Runs sync handlers on a set of threads; an abandoned thread is replaced at once.

    Python cannot stop a thread, so a job that times out is abandoned: its thread keeps
    running the handler, its late result is discarded, and a new thread takes its place.
    """

    def __init__(
        self, size: int, on_finished: Finished, on_started: Callable[[Job], None]
    ) -> None:
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._on_finished = on_finished
        self._on_started = on_started
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._serial = 0
        self.abandoned_threads = 0
        for _ in range(size):
            self._spawn()

    def _spawn(self) -> None:
        with self._lock:
            self._serial += 1
            thread = threading.Thread(
                target=self._main, name=f"taskbasket-thread-{self._serial}", daemon=True
            )
            self._threads.add(thread)
        thread.start()

    def submit(self, job: Job) -> None:
        self._queue.put(job)

    def replace_abandoned(self) -> None:
        """A job of one of our threads was abandoned: add a thread to take its place."""
        with self._lock:
            self.abandoned_threads += 1
        self._spawn()

    def _main(self) -> None:
        me = threading.current_thread()
        try:
            while True:
                job = self._queue.get()
                if job is None:
                    return
                if not job.move(JobPhase.PENDING, JobPhase.RUNNING):
                    continue  # released by a stopping worker, which recorded that
                self._on_started(job)
                token = _current.set(_context(job))
                error: BaseException | None = None
                try:
                    args, kwargs = decode_arguments(job.claimed.id, job.claimed.payload)
                    job.definition.func(*args, **kwargs)
                except BaseException as exc:  # the handler's failure is data here
                    error = exc
                finally:
                    _current.reset(token)
                abandoned = job.phase is JobPhase.ABANDONED
                self._on_finished(job, error)
                if abandoned:
                    return  # a replacement thread already serves in our place
        finally:
            with self._lock:
                self._threads.discard(me)

    @property
    def live_threads(self) -> int:
        with self._lock:
            return len(self._threads)

    def shutdown(self) -> None:
        with self._lock:
            count = len(self._threads)
        for _ in range(count):
            self._queue.put(None)


class AsyncExecutor:
    """Runs async handlers as tasks on one event loop in its own thread."""

    def __init__(self, on_finished: Finished) -> None:
        self._on_finished = on_finished
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
        job.async_task = self._loop.create_task(self._run(job))

    async def _run(self, job: Job) -> None:
        _current.set(_context(job))
        error: BaseException | None = None
        timeout = asyncio.timeout(job.claimed.timeout)
        try:
            args, kwargs = decode_arguments(job.claimed.id, job.claimed.payload)
            async with timeout:
                await job.definition.func(*args, **kwargs)
        except asyncio.CancelledError as exc:
            error = exc  # lease lost or worker stopping: the worker knows which
        except TimeoutError as exc:
            error = _TimedOut() if timeout.expired() else exc
        except BaseException as exc:
            error = exc
        self._on_finished(job, error)

    def cancel(self, job: Job) -> None:
        task = job.async_task
        if task is not None:
            self._loop.call_soon_threadsafe(task.cancel)

    def shutdown(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


class _TimedOut(Exception):
    """Marks an async attempt stopped by its task's timeout."""


def is_timeout(error: BaseException | None) -> bool:
    return isinstance(error, _TimedOut)

