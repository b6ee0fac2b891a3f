"""What a running handler can learn about the attempt it is part of."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from taskbasket.errors import TaskCancelled

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


_current: ContextVar[TaskContext | None] = ContextVar("taskbasket_current_task", default=None)


def current_task() -> TaskContext | None:
    """The task the calling handler is running, or None outside a handler."""
    return _current.get()
