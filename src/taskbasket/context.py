"""What a running handler can learn about the attempt it is part of."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

SCHEDULE_HEADER = "taskbasket-schedule"
"""The header of a task a schedule started: the schedule's name."""
SLOT_HEADER = "taskbasket-slot"
"""The header of a task a schedule started: its slot, ISO 8601 in the schedule's zone."""
TIMEZONE_HEADER = "taskbasket-timezone"


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
