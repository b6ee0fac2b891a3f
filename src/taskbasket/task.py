"""The task record, its eight states, and the options a task is enqueued with."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskbasket.history import HistoryEntry


class State(enum.StrEnum):
    """Where a task is in its life; a str enum, so ``State.FAILED == "failed"``."""

    WAITING = "waiting"
    """Waits for its dependencies (``after=``, a chain or a group) to succeed."""
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """True for succeeded, failed and cancelled: the task will never run again."""
        return self in FINAL_STATES


FINAL_STATES: frozenset[State] = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED})
PENDING_STATES: frozenset[State] = frozenset({State.QUEUED, State.SCHEDULED, State.RETRYING})
ALL_STATES: tuple[State, ...] = tuple(State)
RETRYABLE_STATES: frozenset[State] = frozenset(
    {State.FAILED, State.CANCELLED, State.RETRYING, State.SCHEDULED})
"""The states ``retry`` moves back to queued (a queued or running task needs no retry)."""

_WORKER_NOTE = re.compile(r"^\[gave up after attempt \d+ of \d+\]$")
"""The note a worker appends to the error of a task that used its last attempt."""



def error_line(error: str | None) -> str:
    """An error's exception line: its last line, without the traceback or the worker's
    ``[gave up after ...]`` note; "" for no error."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    while lines and _WORKER_NOTE.match(lines[-1]):
        lines.pop()
    return lines[-1] if lines else ""


PRIORITY_MIN = -32768
PRIORITY_MAX = 32767


@dataclass(frozen=True, slots=True)
class TaskProgress:
    """A handler's last progress report: ``done`` of ``total`` (None: unknown), a
    ``note``, and when it was made (``updated_at``, aware UTC)."""

    done: float
    total: float | None
    note: str | None
    updated_at: datetime

    @property
    def fraction(self) -> float | None:
        """``done / total`` clamped to 0..1, or None without a positive total."""
        if not self.total or self.total <= 0:
            return None
        return min(1.0, max(0.0, self.done / self.total))

    def as_dict(self) -> dict[str, Any]:
        return {"done": self.done, "total": self.total, "note": self.note,
                "updated_at": self.updated_at}


@dataclass(frozen=True, slots=True)
class Task:
    """A stored task as the inspector sees it: a snapshot, not a live handle."""

    id: str
    name: str
    queue: str
    state: State
    priority: int
    attempts: int
    max_attempts: int
    timeout: float
    args: list[Any]
    kwargs: dict[str, Any]
    unique_key: str | None
    last_error: str | None
    created_at: datetime
    run_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    lease_expires_at: datetime | None
    worker_id: str | None = None
    payload_error: str | None = field(default=None, repr=False)
    """Set when the stored arguments cannot be decoded; ``args``/``kwargs`` are then empty."""
    result: Any = None
    """What the handler returned, decoded from JSON, once the task succeeded; else None."""
    progress: TaskProgress | None = None
    """The handler's last progress report (``current_task().progress(...)``), or None."""
    workflow_id: str | None = None
    """The workflow it belongs to (a chain, a group, or tasks joined by ``after=``)."""
    limit_key: str | None = None
    """The value its task's limits count per (docs/flow-control.md), or None."""
    snoozes: int = 0
    """How many times the task snoozed (``raise Snooze``) since it was enqueued or retried."""
    history: tuple[HistoryEntry, ...] = ()
    """Its last attempts (``AttemptEntry``, at most 20) and edits (``EditEntry``), oldest
    first (see ``taskbasket.history``); empty when read without arguments (listings)."""

    @property
    def is_final(self) -> bool:
        return self.state.is_final

    @property
    def error_line(self) -> str:
        """The last error's exception line (``ValueError: no such mailbox``): its last
        line, without the traceback or the worker's ``[gave up after ...]`` note; "" if
        the task has no error."""
        return error_line(self.last_error)

    def as_dict(self) -> dict[str, Any]:
        """Every field by name, the state as its str; times stay datetimes."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["state"] = self.state.value
        data["progress"] = None if self.progress is None else self.progress.as_dict()
        data["history"] = [
            {"kind": "edit" if hasattr(e, "previous") else "attempt",
             **{name: getattr(e, name) for name in e.__slots__}}
            for e in self.history]
        return data


@dataclass(frozen=True, slots=True)
class CorruptTask:
    """A stored task that taskbasket cannot read: its id and what is wrong with it.

    Listings show it instead of failing as a whole; claims fail it at once (its error
    says why), and ``basket.delete(id)`` removes it.
    """

    id: str
    reason: str


class TaskList(list[Task]):
    """A page of tasks, newest first: a list of the tasks that could be read.

    ``corrupt`` holds the page's stored tasks that could not be read (see
    :class:`CorruptTask`), and ``last_id`` the id of the page's last row, readable or not:
    the cursor for the next page.
    """

    def __init__(self, tasks: Iterable[Task] = (), corrupt: Iterable[CorruptTask] = (),
                 last_id: str | None = None) -> None:
        super().__init__(tasks)
        self.corrupt = list(corrupt)
        self.last_id = last_id


@dataclass(frozen=True, slots=True)
class TaskRef:
    """What enqueue returns: the task's id, and whether this call created it.

    ``created`` is False when a unique key matched a task that is not final yet; ``id`` is
    then that existing task's id.
    """

    id: str
    created: bool = True
    basket: Any = field(default=None, compare=False, repr=False)
    """The Basket that enqueued it (for ``result``); not part of equality or repr."""
    workflow_id: str | None = field(default=None, compare=False)
    """The workflow the task belongs to, if any (``basket.workflow(ref.workflow_id)``)."""

    def __str__(self) -> str:
        return self.id

    def __reduce__(self) -> tuple[type[TaskRef], tuple[str, bool]]:
        return TaskRef, (self.id, self.created)  # a pickled ref leaves its basket behind

    def _waiting_basket(self) -> Any:
        if self.basket is None:
            raise RuntimeError(f"TaskRef {self.id} has no basket: use basket.result(ref.id)")
        return self.basket

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the task's result: see :meth:`taskbasket.Basket.result`."""
        return self._waiting_basket().result(self.id, timeout=timeout)

    async def result_async(self, timeout: float | None = None) -> Any:
        """Wait for the task's result without blocking the event loop."""
        return await self._waiting_basket().result_async(self.id, timeout=timeout)
