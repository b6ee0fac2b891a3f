"""Events (hooks) and middleware: how applications watch and wrap task execution.

A hook is a function of one :class:`Event`, registered for one or more kinds with
``@basket.on("failed")``. Hooks run in the process where the change happened (enqueued in
the producer; started, succeeded, retrying, failed and lease_expired in the worker;
cancelled where ``cancel`` was called). A hook that raises is logged and ignored: it never
breaks a worker or loses a task.

Middleware wraps every execution: a generator function of the :class:`TaskContext` that
yields once, registered with ``@basket.middleware``. Code before the ``yield`` runs before
the handler, code after it after; an exception from the handler is raised at the ``yield``.
It works the same for thread, async and process handlers.
"""

from __future__ import annotations

import contextlib
import enum
import logging
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from taskbasket.context import TaskContext
from taskbasket.errors import ConfigurationError

log = logging.getLogger("taskbasket.events")


class EventKind(enum.StrEnum):
    ENQUEUED = "enqueued"
    STARTED = "started"
    SUCCEEDED = "succeeded"
    RETRYING = "retrying"
    FAILED = "failed"
    """Gave up: the seed's 'aborted'."""
    CANCELLED = "cancelled"
    LEASE_EXPIRED = "lease_expired"


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a task. Fields that do not apply are None."""

    kind: EventKind
    task_id: str
    name: str | None = None
    queue: str | None = None
    attempt: int | None = None
    max_attempts: int | None = None
    error: str | None = None
    next_run_at: datetime | None = None
    """For ``retrying``: when the next attempt is due."""
    retry_delay: float | None = None
    duration: float | None = None
    """Seconds the attempt ran, for succeeded, retrying and failed."""
    pickup_latency: float | None = None
    """For ``started``: seconds from the task becoming due to its start."""


Hook = Callable[[Event], Any]
Middleware = Callable[[TaskContext], Generator[None, None, None]]
EnqueueMiddleware = Callable[[str, dict[str, str]], Generator[None, None, None]]
"""Wraps one enqueue call: gets the task name and a headers dict it may fill before the
``yield`` (they are stored with the task and reach ``TaskContext.headers``)."""


class Hooks:
    """The hooks and middleware of one basket."""

    def __init__(self) -> None:
        self._hooks: dict[EventKind, list[Hook]] = {kind: [] for kind in EventKind}
        self.middleware: list[Middleware] = []
        self.enqueue_middleware: list[EnqueueMiddleware] = []

    def add(self, kinds: str | Iterable[str], hook: Hook) -> None:
        names = [kinds] if isinstance(kinds, str) else list(kinds)
        for name in names:
            try:
                kind = EventKind(name)
            except ValueError:
                raise ConfigurationError(
                    f"unknown event {name!r}; events are "
                    f"{', '.join(k.value for k in EventKind)}"
                ) from None
            self._hooks[kind].append(hook)

    def wants(self, kind: EventKind) -> bool:
        return bool(self._hooks[kind])

    def emit(self, event: Event) -> None:
        """Call every hook of the event's kind; a hook's exception is logged, not raised."""
        for hook in self._hooks[event.kind]:
            try:
                hook(event)
            except Exception:
                log.exception("hook %s for %s of task %s raised; ignored",
                              getattr(hook, "__qualname__", hook), event.kind.value,
                              event.task_id)

    @contextlib.contextmanager
    def around_enqueue(self, name: str, headers: dict[str, str]) -> Iterator[None]:
        """Enter every enqueue middleware around one enqueue call."""
        if not self.enqueue_middleware:
            yield
            return
        with contextlib.ExitStack() as stack:
            for factory in self.enqueue_middleware:
                stack.enter_context(contextlib.contextmanager(factory)(name, headers))
            yield

    @contextlib.contextmanager
    def around(self, context: TaskContext) -> Iterator[None]:
        """Enter every middleware around one execution, outermost first."""
        if not self.middleware:
            yield
            return
        with contextlib.ExitStack() as stack:
            for factory in self.middleware:
                stack.enter_context(contextlib.contextmanager(factory)(context))
            yield
