"""The memory store's records as the seam hands them out, what a filter selects, and
the checks that refuse what no store can keep (a text that is not Unicode, a time that
is not a finite number), before anything changes, as the SQL stores refuse them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from taskbasket.backends.base import (
    ClaimedTask,
    ExpiredLease,
    NewTask,
    Outcome,
    OutcomeKind,
    StoredTask,
    TaskFilter,
    stored_state,
)
from taskbasket.backends.memory.store import Record
from taskbasket.backends.rows import expired_lease, lenient, stored_or_corrupt
from taskbasket.task import CorruptTask


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"not a time: {value!r}")
    return datetime.fromtimestamp(value, UTC)


def stored(record: Record, with_payload: bool = True) -> StoredTask | CorruptTask:
    def build() -> StoredTask:
        return StoredTask(
            id=record.id, name=record.name, queue=record.queue,
            state=stored_state(record.id, record.state_value),
            payload=record.payload if with_payload else "",
            priority=record.priority, attempts=record.attempts,
            max_attempts=record.max_attempts, timeout=record.timeout,
            unique_key=record.unique_key, last_error=record.last_error,
            created_at=lenient(_time, record.created_at), run_at=lenient(_time, record.run_at),
            started_at=lenient(_time, record.started_at),
            finished_at=lenient(_time, record.finished_at),
            lease_expires_at=lenient(_time, record.lease_expires_at),
            worker_id=record.worker_id,
            result=record.result if with_payload else None, progress=record.progress,
            workflow_id=record.workflow_id,
            limit_key=record.limit_key,
            snoozes=record.snoozes, history=record.history if with_payload else None,
        )

    return stored_or_corrupt(record.id, build)


def claimed(values: tuple[Any, ...], token: str) -> ClaimedTask:
    (task_id, name, queue, payload, priority, attempts, max_attempts, timeout, created_at,
     run_at, unique_key, limit_key, snoozes, history) = values
    return ClaimedTask(
        id=task_id, name=name, queue=queue, payload=payload, priority=priority,
        attempts=attempts, max_attempts=max_attempts, timeout=timeout, lease_token=token,
        created_at=lenient(_time, created_at), run_at=lenient(_time, run_at),
        unique_key=unique_key, limit_key=limit_key, snoozes=snoozes, history=history,
    )


def expired(record: Record) -> ExpiredLease:
    """The expired lease of a running record, with what its history entry needs."""
    return expired_lease(record.id, record.lease_token, record.name, record.queue,
                         record.attempts, record.max_attempts, worker_id=record.worker_id,
                         started_at=lenient(_time, record.started_at), history=record.history)


def matches(record: Record, task_filter: TaskFilter, now: float) -> bool:
    if task_filter.states is not None and record.state_value not in {
            str(s) for s in task_filter.states}:
        return False
    if task_filter.queues is not None and record.queue not in task_filter.queues:
        return False
    if task_filter.names is not None and record.name not in task_filter.names:
        return False
    if task_filter.workflow_id is not None and task_filter.workflow_id not in (
            record.workflow_id, record.id):
        return False
    if task_filter.finished_before is not None:
        finished = record.finished_at
        if not record.final or not isinstance(finished, int | float) or (
                finished >= now - task_filter.finished_before):
            return False
    return True


def _text(what: str, value: str | None) -> None:
    """Refuse a text that UTF-8 cannot encode (a lone surrogate), as every store does."""
    if value is not None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"the store cannot keep {what} {value!r}: {exc}") from None


def _seconds(what: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"the store cannot keep {what} {value!r}: not a finite number")


def check_new_tasks(tasks: Sequence[NewTask]) -> None:
    """Refuse a batch of new tasks if the store cannot keep one of them."""
    for task in tasks:
        for what, text in (("the task id", task.id), ("the task name", task.name),
                           ("the queue name", task.queue), ("the arguments", task.payload),
                           ("the unique key", task.unique_key)):
            _text(what, text)
        _seconds("the delay", task.delay)
        _seconds("the timeout", task.timeout)


def check_outcomes(outcomes: Sequence[Outcome]) -> None:
    """Refuse a batch of outcomes if the store cannot keep one of them."""
    for outcome in outcomes:
        _text("the error", outcome.error)
        _text("the history", outcome.history)
        if outcome.kind in (OutcomeKind.RETRY, OutcomeKind.DEFERRED) and (
                outcome.retry_at is None):
            _seconds("the retry delay", outcome.retry_delay)


def check_text(what: str, value: str | None) -> None:
    """Refuse a text that the store cannot keep."""
    _text(what, value)
