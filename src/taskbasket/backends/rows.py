"""Reading stored rows, checked in one place for every store: a corrupt row spoils itself only.

A row that another program wrote or changed (an unknown state, a number that is text, a
time that is no time, a missing field) must not break a whole listing, nor block every
claim. Each store turns its rows into records as it always did, inside ``stored_or_corrupt``
or ``claimed_or_corrupt``: whatever fails in that conversion, or a field that does not
hold what taskbasket writes, makes a :class:`~taskbasket.task.CorruptTask` (its id and the
reason) instead. ``claimed_tasks`` fails a corrupt claimed task at once, fenced by the
lease its claim handed out, so claims go on; ``expired_lease`` marks an expired lease of a
corrupt row, which the rescuer then fails, so rescues go on; ``state_counts`` skips counts
of states that taskbasket does not know.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from taskbasket.backends.base import (
    ClaimedTask,
    ExpiredLease,
    Lease,
    Outcome,
    OutcomeKind,
    StoredTask,
)
from taskbasket.errors import StoreCorruptedError
from taskbasket.task import PRIORITY_MAX, PRIORITY_MIN, CorruptTask, State

if TYPE_CHECKING:
    from taskbasket.backends.base import Backend

log = logging.getLogger("taskbasket.worker")
_warned: set[tuple[str, str]] = set()

# what converting a hand-made row can raise (the builders do no I/O: an OSError there is
# datetime.fromtimestamp refusing a time out of range)
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError,
               OSError, StoreCorruptedError)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_time(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def _text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "id": (_text, "a task id"),
    "name": (_text, "a task name"),
    "queue": (_text, "a queue name"),
    "state": (lambda v: isinstance(v, State), "a state"),
    "payload": (lambda v: isinstance(v, str), "JSON text"),
    "priority": (lambda v: _is_int(v) and PRIORITY_MIN <= v <= PRIORITY_MAX,
                 f"a priority ({PRIORITY_MIN}..{PRIORITY_MAX})"),
    "attempts": (lambda v: _is_int(v) and v >= 0, "a count of attempts (>= 0)"),
    "max_attempts": (lambda v: _is_int(v) and v >= 1, "a limit of attempts (>= 1)"),
    "timeout": (lambda v: isinstance(v, int | float) and not isinstance(v, bool)
                and math.isfinite(v) and v > 0, "a timeout in seconds (> 0)"),
    "unique_key": (lambda v: v is None or isinstance(v, str), "a unique key or nothing"),
    "limit_key": (lambda v: v is None or isinstance(v, str), "a limit key or nothing"),
    "last_error": (lambda v: v is None or isinstance(v, str), "an error text or nothing"),
    "lease_token": (_text, "a lease token"),
    "created_at": (_is_time, "a time"),
    "run_at": (_is_time, "a time"),
    "started_at": (lambda v: v is None or _is_time(v), "a time or nothing"),
    "finished_at": (lambda v: v is None or _is_time(v), "a time or nothing"),
    "lease_expires_at": (lambda v: v is None or _is_time(v), "a time or nothing"),
    "worker_id": (lambda v: v is None or isinstance(v, str), "a worker id or nothing"),
    "result": (lambda v: v is None or isinstance(v, str), "a result's JSON text or nothing"),
    "progress": (lambda v: v is None or isinstance(v, str), "a progress JSON text or nothing"),
    "snoozes": (lambda v: _is_int(v) and v >= 0, "a count of snoozes (>= 0)"),
    "history": (lambda v: v is None or isinstance(v, str), "a history JSON text or nothing"),
    "workflow_id": (lambda v: v is None or isinstance(v, str), "a workflow id or nothing"),
}


def lenient(convert: Callable[[Any], Any], value: Any) -> Any:
    """``convert(value)``, or ``value`` as stored when it cannot be converted (a corrupt
    row): the check of the record then names the field and what it holds."""
    try:
        return convert(value)
    except _UNREADABLE:
        return value


def _field_problem(name: str, value: Any) -> str | None:
    check, expected = _CHECKS[name]
    if check(value):
        return None
    if value is None:
        return f"{name} is missing, where taskbasket keeps {expected}"
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    return f"{name} holds {shown}, not {expected}"


def problem(record: StoredTask | ClaimedTask) -> str | None:
    """What is wrong with a record built from a stored row, or None if nothing is."""
    for name in record.__slots__:
        found = _field_problem(name, getattr(record, name))
        if found is not None:
            return found
    return None


def _count(value: Any) -> Any:
    """A count as stored: an integer, or its digits as text (Redis); anything else as it is."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def expired_lease(task_id: Any, token: Any, name: Any, queue: Any, attempts: Any,
                  max_attempts: Any, reason: str | None = None, *, worker_id: Any = None,
                  started_at: Any = None, history: Any = None) -> ExpiredLease:
    """An expired lease as a store read it. Counts that are not what taskbasket writes (a
    corrupt row), or the ``reason`` a store found itself, make it ``corrupt``: the rescuer
    fails it with that reason instead of deciding by counts it cannot trust. The lost
    attempt's ``worker_id``, ``started_at`` (an aware datetime; anything else reads as
    none) and the stored ``history`` text only inform its history entry."""
    attempts, max_attempts = _count(attempts), _count(max_attempts)
    if reason is None:
        reason = (_field_problem("attempts", attempts)
                  or _field_problem("max_attempts", max_attempts))
    if reason is not None:
        attempts, max_attempts = 0, 1  # not read: a corrupt lease is failed, not counted
    return ExpiredLease(str(task_id), "" if token is None else str(token),
                        "" if name is None else str(name), "" if queue is None else str(queue),
                        attempts, max_attempts, corrupt=reason,
                        worker_id=None if worker_id is None else str(worker_id),
                        started_at=started_at if _is_time(started_at) else None,
                        history=history if isinstance(history, str) else None)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, StoreCorruptedError):
        return str(exc)
    return f"its row cannot be read ({type(exc).__name__}: {exc})"


def stored_or_corrupt(task_id: Any, build: Callable[[], StoredTask]) -> StoredTask | CorruptTask:
    """The task ``build`` makes of a row, or a CorruptTask if it fails or is not sound."""
    try:
        stored = build()
    except _UNREADABLE as exc:
        return CorruptTask(str(task_id), _reason(exc))
    found = problem(stored)
    return stored if found is None else CorruptTask(str(task_id), found)


def claimed_or_corrupt(
    task_id: Any, build: Callable[[], ClaimedTask]
) -> ClaimedTask | CorruptTask:
    """``stored_or_corrupt`` for a claimed row."""
    try:
        claimed = build()
    except _UNREADABLE as exc:
        return CorruptTask(str(task_id), _reason(exc))
    found = problem(claimed)
    return claimed if found is None else CorruptTask(str(task_id), found)


def corrupt_error(task: CorruptTask) -> str:
    """The error recorded for a corrupt task that a claim took: it is failed, not run."""
    return (f"StoreCorruptedError: task {task.id} is corrupt in the store ({task.reason}); "
            "it was failed instead of run. Fix its row and retry it, or delete it")


def claimed_tasks(
    backend: Backend, token: str, rows: Iterable[tuple[Any, Callable[[], ClaimedTask]]]
) -> list[ClaimedTask]:
    """The claimed tasks of ``rows`` (each its task id and a builder); the corrupt ones
    are recorded failed at once, under the claim's ``token``, and left out."""
    claimed: list[ClaimedTask] = []
    corrupt: list[CorruptTask] = []
    for task_id, build in rows:
        task = claimed_or_corrupt(task_id, build)
        if isinstance(task, CorruptTask):
            corrupt.append(task)
        else:
            claimed.append(task)
    if corrupt:
        fail_corrupt(backend, token, corrupt)
    return claimed


def fail_corrupt(backend: Backend, token: str, corrupt: Sequence[CorruptTask]) -> None:
    """Record each corrupt claimed task failed with the reason; log what could not be."""
    outcomes = [Outcome(Lease(t.id, token), OutcomeKind.FAILED, error=corrupt_error(t))
                for t in corrupt]
    for task in corrupt:
        log.error("task %s is corrupt in the store and was failed, not run: %s", task.id,
                  task.reason)
    try:
        backend.tasks_finish(outcomes)
    except Exception as exc:  # its lease expires and the rescuer fails it in the end
        log.error("could not fail %d corrupt task(s): %s: %s", len(outcomes),
                  type(exc).__name__, exc)


def state_counts(rows: Iterable[tuple[str, str, int]]) -> dict[tuple[str, State], int]:
    """Counts per (queue, state) from (queue, stored state, count) rows; a count of a state
    taskbasket does not know (a corrupt row) is left out, and logged."""
    counts: dict[tuple[str, State], int] = {}
    for queue, state, count in rows:
        try:
            key = (queue, State(state))
        except ValueError:
            if (queue, state) not in _warned:  # once: the dashboard counts every few seconds
                _warned.add((queue, state))
                log.warning("%s task(s) of queue %s have the unknown state %r: corrupt rows, "
                            "left out of the counts (`taskbasket ls` lists them)", count, queue,
                            state)
            continue
        counts[key] = counts.get(key, 0) + int(count)
    return counts
