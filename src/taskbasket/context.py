"""What a running handler can learn about the attempt it is part of."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field


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

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


_current: ContextVar[TaskContext | None] = ContextVar("taskbasket_current_task", default=None)


def current_task() -> TaskContext | None:
    """The task the calling handler is running, or None outside a handler."""
    return _current.get()
