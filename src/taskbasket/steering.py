"""The Basket's operator actions that take several steps: retry, cancel and clean.

Retry picks its default states, cancel finds the tasks first when ``cancelled`` hooks
listen (so that each hook learns which task it was), and clean deletes final tasks in
batches. The store does each step; nothing here decides a task's fate on its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

from taskbasket.backends.base import Backend, CancelParams, ListParams, PruneParams, TaskFilter
from taskbasket.errors import ConfigurationError
from taskbasket.events import Event, EventKind, Hooks
from taskbasket.inspection import NamesArg, StateArg, task_filter, task_states
from taskbasket.storable import storable_text
from taskbasket.task import FINAL_STATES, CorruptTask, State
from taskbasket.validation import MAX_DELAY, parse_duration


def retry_tasks(
    backend: Backend,
    task_id: str | Sequence[str] | None,
    queue: NamesArg,
    name: NamesArg,
    state: StateArg,
) -> int:
    """What :meth:`Basket.retry <taskbasket.Basket.retry>` does."""
    if task_id is None and state is None:
        state = State.FAILED
    return backend.tasks_retry(task_filter(task_id, state, queue, name))


DEFAULT_CANCEL_REASON = "cancelled"
"""The reason a cancel records when it is given none."""
MAX_REASON_CHARS = 2000


def cancel_reason(reason: str | None) -> str:
    """The reason a cancel stores as ``last_error`` (and a running attempt's
    ``TaskCancelled`` carries): ``reason`` made storable, or the default for None."""
    if reason is None:
        return DEFAULT_CANCEL_REASON
    if not isinstance(reason, str):
        raise ConfigurationError(
            f"a cancel's reason must be a str (or None), got {type(reason).__name__}")
    if not reason.strip():
        raise ConfigurationError("a cancel's reason is empty; give a few words, or None")
    if len(reason) > MAX_REASON_CHARS:
        raise ConfigurationError(
            f"a cancel's reason is {len(reason)} characters long; at most "
            f"{MAX_REASON_CHARS} are kept, so shorten it")
    return storable_text(reason)


def cancel_tasks(
    backend: Backend,
    hooks: Hooks,
    task_id: str | Sequence[str] | None,
    queue: NamesArg,
    name: NamesArg,
    state: StateArg,
    reason: str | None = None,
    workflow_id: str | None = None,
) -> int:
    """What :meth:`Basket.cancel <taskbasket.Basket.cancel>` does."""
    if (task_id is None and queue is None and name is None and state is None
            and workflow_id is None):
        raise ConfigurationError(
            "cancel needs ids or a queue, name, state or workflow_id to select by")
    text = cancel_reason(reason)
    selection = dataclasses.replace(task_filter(task_id, state, queue, name),
                                    workflow_id=workflow_id)
    if not hooks.wants(EventKind.CANCELLED):
        return backend.tasks_cancel(CancelParams(selection, text))
    # with cancelled hooks: find the tasks first, so each hook learns which one
    open_states = [s for s in State if s not in FINAL_STATES]
    states = [s for s in (selection.states or open_states) if s in open_states]
    candidates = [t for t in backend.tasks_list(ListParams(
        TaskFilter(selection.ids, states, selection.queues, selection.names,
                   workflow_id=workflow_id),
        limit=1_000_000)) if not isinstance(t, CorruptTask)]
    if not candidates:
        return 0
    count = backend.tasks_cancel(CancelParams(TaskFilter(ids=[t.id for t in candidates]), text))
    for task in candidates:
        current = backend.tasks_get(task.id) if count < len(candidates) else None
        if current is None or (
                not isinstance(current, CorruptTask) and current.state is State.CANCELLED):
            hooks.emit(Event(EventKind.CANCELLED, task.id, task.name, task.queue,
                             task.attempts, task.max_attempts, error=text))
    return count


def clean_tasks(
    backend: Backend, older_than: float | str | timedelta, state: StateArg, batch_size: int
) -> int:
    """What :meth:`Basket.clean <taskbasket.Basket.clean>` does."""
    states = task_states(state) or sorted(FINAL_STATES)
    not_final = [s for s in states if s not in FINAL_STATES]
    if not_final:
        raise ConfigurationError(
            f"clean removes only final tasks; {', '.join(not_final)} are not final "
            "(use purge to delete those)"
        )
    if batch_size < 1:
        raise ConfigurationError(f"batch_size must be at least 1, got {batch_size!r}")
    age = parse_duration(older_than, "older_than", MAX_DELAY)
    params = PruneParams(dict.fromkeys(states, age), batch_size)
    total = 0
    while True:
        deleted = backend.tasks_prune(params)
        total += deleted
        if deleted < batch_size:
            return total
