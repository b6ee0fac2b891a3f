"""What a running handler can learn about the attempt it is part of."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from taskbasket.errors import TaskCancelled

if TYPE_CHECKING:
    from taskbasket.steps.runner import StepRunner

_MISSING: Any = object()

SCHEDULE_HEADER = "taskbasket-schedule"
"""The header of a task a schedule started: the schedule's name."""
SLOT_HEADER = "taskbasket-slot"
"""The header of a task a schedule started: its slot, ISO 8601 in the schedule's zone."""
TIMEZONE_HEADER = "taskbasket-timezone"


class CancelSignal:
    """Set once, by the worker, when the task of a running attempt was cancelled; it then
    holds the cancel's reason. Safe to read from any thread."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True, slots=True)
class TaskContext:
    """The task a handler is running: id, name, queue and which attempt this is."""

    id: str
    name: str
    queue: str
    attempt: int
    max_attempts: int
    headers: Mapping[str, str] = field(default_factory=dict)
    """What enqueue middleware stored beside the arguments (e.g. a trace context)."""
    reporter: Callable[[float, float | None, str | None], None] | None = field(
        default=None, repr=False, compare=False)
    """Where ``progress`` reports go (None: they are dropped; in a child process they go
    to the parent over the task's pipe, see worker/child_progress.py)."""
    cancel_signal: CancelSignal | None = field(default=None, repr=False, compare=False)
    """Set when the task was cancelled while this attempt runs (None: never set)."""
    steps: StepRunner | None = field(default=None, repr=False, compare=False)
    """The attempt's durable steps (None where there are none: a process-executor
    handler, or a store that keeps no task row)."""

    @property
    def cancelled(self) -> bool:
        """True once the task was cancelled (``basket.cancel``) while this attempt runs:
        the handler should stop; whatever it returns now is discarded."""
        return self.cancel_signal is not None and self.cancel_signal.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`~taskbasket.TaskCancelled` (with the cancel's reason) if the task
        was cancelled; else return at once. Cheap: call it in a handler's loop."""
        signal = self.cancel_signal
        if signal is not None and signal.is_set():
            raise TaskCancelled(signal.reason or "cancelled")

    def _runner(self, what: str) -> StepRunner:
        if self.steps is None:
            raise _no_steps(what)
        return self.steps

    def step(self, name: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` once as the durable step ``name`` and return its
        result; when the task runs again (a retry, a crash, a resume after a sleep) a
        completed step returns its stored result without running. Names are unique
        within a run, and steps run in the same order every run (StepDeterminismError).
        The result is stored as JSON (as a task's result is) and returned as JSON gives
        it back. A step that raises is not stored: the task retries as usual."""
        return self._runner("ctx.step").step(name, fn, *args, **kwargs)

    async def step_async(self, name: str, fn: Callable[..., Any], /, *args: Any,
                         **kwargs: Any) -> Any:
        """``step`` for async handlers: ``fn`` may be async (awaited) or not."""
        return await self._runner("ctx.step_async").step_async(name, fn, *args, **kwargs)

    def sleep(self, seconds: float | timedelta) -> None:
        """Sleep durably: the attempt ends (raising DurableWait: let it propagate), the
        task waits ``scheduled`` without holding a slot and without costing an attempt
        or a snooze, then runs again from the top with its completed steps cached; there
        this call returns at once. The sleep is itself a step (named ``sleep``,
        ``sleep#2``, ... in the order of the run)."""
        self._runner("ctx.sleep").sleep(seconds)

    def sleep_until(self, moment: datetime) -> None:
        """``sleep`` until ``moment`` (an aware datetime)."""
        self._runner("ctx.sleep_until").sleep_until(moment)

    def receive(self, name: str, timeout: float | timedelta | None = None,
                default: Any = _MISSING) -> Any:
        """The next message named ``name`` sent to this task (``basket.send``). A message
        sent before the task asks is kept; without one, the attempt ends (DurableWait)
        and the task waits ``scheduled``, without a slot or an attempt, until a send
        wakes it or ``timeout`` seconds (None: no limit) pass. On timeout it raises
        ReceiveTimeout, or returns ``default`` if one is given. It is a step (named
        ``receive:<name>``): a replay returns the same message, or times out again."""
        runner = self._runner("ctx.receive")
        if default is _MISSING:
            return runner.receive(name, timeout)
        return runner.receive(name, timeout, default)

    async def sleep_async(self, seconds: float | timedelta) -> None:
        """``sleep`` for async handlers (the store is called off the event loop)."""
        await asyncio.to_thread(self._runner("ctx.sleep_async").sleep, seconds)

    async def sleep_until_async(self, moment: datetime) -> None:
        """``sleep_until`` for async handlers."""
        await asyncio.to_thread(self._runner("ctx.sleep_until_async").sleep_until, moment)

    async def receive_async(self, name: str, timeout: float | timedelta | None = None,
                            default: Any = _MISSING) -> Any:
        """``receive`` for async handlers (the store is called off the event loop)."""
        runner = self._runner("ctx.receive_async")
        if default is _MISSING:
            return await asyncio.to_thread(runner.receive, name, timeout)
        return await asyncio.to_thread(runner.receive, name, timeout, default)

    def progress(self, done: float, total: float | None = None, note: str | None = None
                 ) -> None:
        """Report how far the handler is: ``done`` of ``total`` (None: unknown), with an
        optional ``note``. Cheap to call in a tight loop: reports are coalesced (a few
        writes a second per task, the last one always kept) and fenced by the lease.
        ValueError for a number that is not finite."""
        if self.reporter is not None:
            self.reporter(done, total, note)

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    @property
    def schedule(self) -> str | None:
        """The name of the schedule that started this task, or None."""
        return self.headers.get(SCHEDULE_HEADER)

    @property
    def slot(self) -> datetime | None:
        """The slot (an aware datetime in the schedule's time zone) this task runs for, if
        a schedule started it; a run triggered by hand has the moment it was triggered."""
        text = self.headers.get(SLOT_HEADER)
        if text is None:
            return None
        moment = datetime.fromisoformat(text)
        zone = self.headers.get(TIMEZONE_HEADER)
        if zone:
            from zoneinfo import ZoneInfo

            moment = moment.astimezone(ZoneInfo(zone))
        return moment


def _no_steps(what: str) -> Exception:
    from taskbasket.errors import UnsupportedOperationError

    return UnsupportedOperationError(
        f"{what} is not available here: durable steps run in handlers of the thread and "
        "async executors on a store (SQLite, PostgreSQL, MySQL, Redis, memory); a "
        "process-executor handler, a task run inline (taskbasket.testing.inline) and a "
        "message bus have none (use executor='thread', or drain() in tests)")


_current: ContextVar[TaskContext | None] = ContextVar("taskbasket_current_task", default=None)


def current_task() -> TaskContext | None:
    """The task the calling handler is running, or None outside a handler."""
    return _current.get()
