"""Waiting for a task to become final, from any process: decided here, above the seam.

A basket keeps one :class:`FinishSignal`: one store listener (``finish_listener``: a
NOTIFY, a pub/sub channel, a wake-up socket, a memory condition) on a thread of its own,
whose wake-ups every waiter of the basket shares. :func:`wait_final` re-reads the task
each time it is woken (or polls, for a store that cannot push), and the task's state
decides: succeeded gives the result, failed or cancelled raise TaskFailed, anything else
keeps waiting until the timeout.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from taskbasket.backends.base import Backend, Listener, PollingListener, StoredTask
from taskbasket.errors import ResultTimeout, TaskFailed, UnsupportedOperationError
from taskbasket.inspection import readable
from taskbasket.redaction import redact_url
from taskbasket.results import decode_result
from taskbasket.task import State

POLL_INTERVAL = 0.02
"""How often a waiter re-reads a task on a store that cannot push finishes (MySQL)."""
PUSHED_RECHECK = 1.0
"""A waiter on a pushing store re-reads at least this often (a lost notification)."""


class FinishSignal:
    """The wake-ups of one store's finished tasks, shared by every waiter of a basket:
    ``generation`` moves on after each one."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._condition = threading.Condition()
        self.generation = 0
        self._listener: Listener | None = None
        self._started = False
        self._closed = False
        self.pushes = False
        """Whether the store pushes finishes (else waiters poll)."""

    def start(self) -> None:
        """Listen, on first use: a store that cannot push gets no thread."""
        with self._condition:
            if self._started or self._closed:
                return
            self._started = True
            listener = self.backend.finish_listener()
            if isinstance(listener, PollingListener):
                listener.close()
                return
            self._listener, self.pushes = listener, True
        threading.Thread(target=self._main, args=(listener,), daemon=True,
                         name="taskbasket-results").start()

    def _main(self, listener: Listener) -> None:
        while not self._closed:
            try:
                woken = listener.wait(PUSHED_RECHECK)
            except Exception:  # the listener's store is down: waiters re-read on their own
                woken = False
                time.sleep(PUSHED_RECHECK)
            if woken:
                with self._condition:
                    self.generation += 1
                    self._condition.notify_all()
        listener.close()

    def wait(self, seen: int, timeout: float) -> None:
        """Block until ``generation`` moves on from ``seen``, or ``timeout`` seconds."""
        if not self.pushes:
            time.sleep(min(timeout, POLL_INTERVAL))
            return
        with self._condition:
            self._condition.wait_for(
                lambda: self.generation != seen or self._closed,
                max(0.0, min(timeout, PUSHED_RECHECK)))

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()


def check_results(backend: Backend, url: str) -> None:
    """UnsupportedOperationError if ``backend`` keeps no results (a message bus)."""
    if not backend.capabilities.results:
        raise UnsupportedOperationError(
            f"{redact_url(url).split(':', 1)[0]} ({type(backend).__name__}) is a message "
            "transport: it keeps no finished task, so it cannot keep results; use a store "
            "(postgresql, mysql, sqlite, redis) to wait for results")


Typed = Callable[[str, Any], Any]
"""(task name, stored result) -> the result as the handler's return annotation says."""


def _final_value(backend: Backend, task_id: str, typed: Typed | None = None
                 ) -> tuple[bool, Any]:
    """(True, the result) once the task succeeded, (False, None) while it is not final;
    TaskFailed for failed or cancelled, LookupError for no such task."""
    stored = backend.tasks_get(str(task_id))
    if stored is None:
        raise LookupError(f"no task {task_id} in the store (never enqueued, deleted, or a "
                          "delete_on_success task that succeeded: it keeps no result)")
    task: StoredTask = readable(stored)
    if task.state is State.SUCCEEDED:
        value = decode_result(task.id, task.result)
        return True, value if typed is None else typed(task.name, value)
    if task.state in (State.FAILED, State.CANCELLED):
        raise TaskFailed(task.id, task.state.value, task.last_error)
    return False, None


def _timeout_error(task_id: str, timeout: float | None) -> ResultTimeout:
    return ResultTimeout(f"task {task_id} did not finish within {timeout:g}s; it goes on "
                         "(wait again, or cancel it)")


def wait_final(backend: Backend, signal: FinishSignal, task_id: str,
               timeout: float | None, typed: Typed | None = None) -> Any:
    """The result of ``task_id`` once it succeeded (see the module's contract)."""
    signal.start()
    deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
    while True:
        seen = signal.generation
        done, value = _final_value(backend, task_id, typed)
        if done:
            return value
        remaining = PUSHED_RECHECK if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            raise _timeout_error(task_id, timeout)
        signal.wait(seen, remaining)


async def wait_final_async(backend: Backend, signal: FinishSignal, task_id: str,
                           timeout: float | None, typed: Typed | None = None) -> Any:
    """``wait_final`` without blocking the event loop (reads and waits run in threads,
    each wait at most ``PUSHED_RECHECK`` long, so cancelling returns soon)."""
    await asyncio.to_thread(signal.start)
    deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
    while True:
        seen = signal.generation
        done, value = await asyncio.to_thread(_final_value, backend, task_id, typed)
        if done:
            return value
        remaining = PUSHED_RECHECK if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            raise _timeout_error(task_id, timeout)
        await asyncio.to_thread(signal.wait, seen, remaining)


__all__ = ["POLL_INTERVAL", "PUSHED_RECHECK", "FinishSignal", "check_results", "wait_final",
           "wait_final_async"]
