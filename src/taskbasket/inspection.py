"""Reading the store for the Basket: selections, and stored tasks turned into Task records.

Turns the Basket's selection arguments (ids, states, queues, names) into a TaskFilter,
a stored row into a :class:`~taskbasket.task.Task` (its arguments decoded, or left out),
and answers get, list, counts per state and the names no handler knows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from taskbasket.backends.base import Backend, CountByNameParams, ListParams, StoredTask, TaskFilter
from taskbasket.codec import decode_arguments
from taskbasket.errors import ConfigurationError, StoreCorruptedError
from taskbasket.history import read_history
from taskbasket.ids import canonical_task_id
from taskbasket.results import decode_progress, decode_result
from taskbasket.task import PENDING_STATES, CorruptTask, State, Task, TaskList

StateArg = State | str | Sequence[State | str] | None
NamesArg = str | Sequence[str] | None


def task_states(state: StateArg) -> list[State] | None:
    """The states given (one or many, as State or its value), or None for any state."""
    if state is None:
        return None
    values = [state] if isinstance(state, str) else list(state)
    result = []
    for value in values:
        try:
            result.append(State(value))
        except ValueError:
            raise ConfigurationError(
                f"unknown state {value!r}; states are {', '.join(s.value for s in State)}"
            ) from None
    return result


def task_names(value: NamesArg) -> list[str] | None:
    """The names (or ids, or queues) given, one or many, or None for any."""
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def task_filter(
    task_id: str | Sequence[str] | None = None,
    state: StateArg = None,
    queue: NamesArg = None,
    name: NamesArg = None,
) -> TaskFilter:
    """The TaskFilter of the Basket's selection arguments."""
    return TaskFilter(
        ids=task_names(task_id), states=task_states(state), queues=task_names(queue),
        names=task_names(name),
    )


def readable(stored: StoredTask | CorruptTask) -> StoredTask:
    """The stored task, or StoreCorruptedError naming it and what is wrong with its row."""
    if isinstance(stored, CorruptTask):
        raise StoreCorruptedError(
            f"task {stored.id} is corrupt in the store: {stored.reason}. It was not "
            "written by taskbasket (or was changed since): fix its row, or delete it "
            f"(taskbasket delete {stored.id})"
        )
    return stored


def to_task(stored: StoredTask, with_arguments: bool = True) -> Task:
    """The Task record of a stored task; arguments that cannot be decoded are left empty
    and named in ``payload_error``."""
    payload_error = None
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    try:
        if with_arguments:
            args, kwargs = decode_arguments(stored.id, stored.payload)
    except StoreCorruptedError as exc:
        payload_error = str(exc)
    result = None
    try:
        result = decode_result(stored.id, stored.result)
    except StoreCorruptedError as exc:
        payload_error = payload_error or str(exc)
    return Task(
        id=stored.id, name=stored.name, queue=stored.queue, state=stored.state,
        priority=stored.priority, attempts=stored.attempts,
        max_attempts=stored.max_attempts, timeout=stored.timeout, args=args,
        kwargs=kwargs, unique_key=stored.unique_key, last_error=stored.last_error,
        created_at=stored.created_at, run_at=stored.run_at, started_at=stored.started_at,
        finished_at=stored.finished_at, lease_expires_at=stored.lease_expires_at,
        worker_id=stored.worker_id, payload_error=payload_error, result=result,
        progress=decode_progress(stored.progress), limit_key=stored.limit_key,
        snoozes=stored.snoozes, history=read_history(stored.history),
        workflow_id=stored.workflow_id,
    )


def get_task(backend: Backend, task_id: str, with_arguments: bool) -> Task | None:
    """What :meth:`Basket.get <taskbasket.Basket.get>` returns."""
    if with_arguments:
        stored = backend.tasks_get(str(task_id))
        return None if stored is None else to_task(readable(stored))
    found = backend.tasks_list(
        ListParams(TaskFilter(ids=[str(task_id)]), limit=1, with_payload=False))
    return to_task(readable(found[0]), with_arguments=False) if found else None


def list_tasks(
    backend: Backend,
    state: StateArg,
    queue: NamesArg,
    name: NamesArg,
    limit: int,
    before: str | None,
    with_arguments: bool,
) -> TaskList:
    """What :meth:`Basket.list <taskbasket.Basket.list>` returns."""
    if limit < 1:
        raise ConfigurationError(f"limit must be >= 1, got {limit}")
    if before is not None:
        before = canonical_task_id(before, "before")
    stored = backend.tasks_list(
        ListParams(task_filter(None, state, queue, name), limit=limit, before_id=before,
                   with_payload=with_arguments)
    )
    return TaskList(
        [to_task(s, with_arguments) for s in stored if not isinstance(s, CorruptTask)],
        [s for s in stored if isinstance(s, CorruptTask)],
        stored[-1].id if stored else None,
    )


def counts_by_state(stats: Mapping[tuple[str, State], int]) -> dict[State, int]:
    """Counts per state over every queue of ``stats``; every state is present."""
    totals = dict.fromkeys(State, 0)
    for (_, state), count in stats.items():
        totals[state] += count
    return totals


def unknown_names(
    backend: Backend, known: Mapping[str, Any], queues: Sequence[str] | None, limit: int
) -> dict[str, int]:
    """What :meth:`Basket.unknown_names <taskbasket.Basket.unknown_names>` returns, for a
    basket that registers the names in ``known``."""
    if queues is None:
        waiting = backend.tasks_count_by_name(CountByNameParams(sorted(PENDING_STATES)))
    else:
        waiting = {}
        for task in backend.tasks_list(ListParams(
            TaskFilter(states=sorted(PENDING_STATES), queues=queues), limit=limit,
            with_payload=False,
        )):
            if not isinstance(task, CorruptTask):
                waiting[task.name] = waiting.get(task.name, 0) + 1
    return {name: count for name, count in waiting.items()
            if count and name not in known}
