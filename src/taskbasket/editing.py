"""Retry, and edit and retry: the Basket's ``retry`` and the one atomic edit it can make.

``basket.retry(task_id, args=..., kwargs=..., queue=..., priority=...)`` changes those
fields of one failed or cancelled task and queues it again, in one atomic step of the
store (``tasks_edit``); the previous values go into the task's history. Input is checked
before anything changes, and a refusal changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from taskbasket import steering
from taskbasket.backends.base import Backend, TaskEditParams
from taskbasket.codec import decode_payload, encode_arguments
from taskbasket.errors import ConfigurationError, TaskStateError, UnsupportedOperationError
from taskbasket.history import with_edit
from taskbasket.inspection import NamesArg, StateArg, readable
from taskbasket.task import CorruptTask, State
from taskbasket.validation import check_name, check_priority

if TYPE_CHECKING:
    from taskbasket.basket import Basket
    from taskbasket.definition import TaskDefinition

EDITABLE_STATES = frozenset({State.FAILED, State.CANCELLED})
"""The states an edit and retry accepts: a task that will not run again on its own."""


def check_args(value: Any) -> list[Any]:
    """``args=``: a list or tuple of positional arguments."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ConfigurationError(
            f"args must be a list of positional arguments, got {type(value).__name__} "
            f"{value!r:.80}; e.g. args=[42, 'draft']")
    return list(value)


def check_kwargs(value: Any) -> dict[str, Any]:
    """``kwargs=``: a mapping of argument names (str) to values."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigurationError(
            f"kwargs must be a dict of argument names to values, got "
            f"{type(value).__name__} {value!r:.80}; e.g. kwargs={{'to': 'a@example.com'}}")
    return dict(value)


def _refusal(task_id: str, state: State | None) -> TaskStateError:
    if state is None:
        return TaskStateError(f"no task {task_id} in the store: nothing was retried")
    if state not in EDITABLE_STATES:
        return TaskStateError(
            f"task {task_id} is {state.value}: only a failed or cancelled task can be "
            "edited and retried (nothing was changed); cancel it first, or wait for it "
            "to fail")
    return TaskStateError(
        f"task {task_id} could not be edited and retried: it changed meanwhile, or "
        "another unfinished task holds its unique key (nothing was changed); look at it "
        f"with `taskbasket show {task_id}` and try again")


def edit_and_retry(
    backend: Backend, task_id: str, changes: Mapping[str, Any],
    definitions: Mapping[str, TaskDefinition[Any, Any]], max_payload_bytes: int,
) -> int:
    """Edit one failed or cancelled task (``changes``: the checked args, kwargs, queue,
    priority given) and queue it again, atomically; 1, or TaskStateError naming why not.
    New arguments must fit the handler where ``definitions`` has it."""
    if not backend.capabilities.edit_retry:
        raise UnsupportedOperationError(
            f"{type(backend).__name__} cannot edit a task and retry it: a message bus "
            "keeps no task row to change; retry it from its dead-letter queue as it is")
    found = backend.tasks_get(task_id)
    if found is None:
        raise _refusal(task_id, None)
    stored = readable(found)
    if stored.state not in EDITABLE_STATES:
        raise _refusal(task_id, stored.state)
    args, kwargs, headers = decode_payload(task_id, stored.payload)
    new_args = changes.get("args", args)
    new_kwargs = changes.get("kwargs", kwargs)
    definition = definitions.get(stored.name)
    if definition is not None and ("args" in changes or "kwargs" in changes):
        definition.check_arguments([(new_args, new_kwargs)])
    payload = None
    if "args" in changes or "kwargs" in changes:
        payload = encode_arguments(stored.name, new_args, new_kwargs, max_payload_bytes,
                                   headers or None)
    current = {"args": args, "kwargs": kwargs, "queue": stored.queue,
               "priority": stored.priority}
    previous = {k: current[k] for k in changes if changes[k] != current[k]}
    history = with_edit(stored.history, datetime.now(UTC), previous)
    applied = backend.tasks_edit(TaskEditParams(
        task_id=stored.id, expected_history=stored.history, history=history,
        payload=payload, queue=changes.get("queue"), priority=changes.get("priority")))
    if not applied:
        again = backend.tasks_get(task_id)
        state = None if again is None or isinstance(again, CorruptTask) else again.state
        raise _refusal(task_id, state)
    return 1


class Editing:
    """The Basket's ``retry`` (mixed into :class:`taskbasket.Basket`)."""

    def retry(
        self,
        task_id: str | Sequence[str] | None = None,
        *,
        queue: NamesArg = None,
        name: NamesArg = None,
        state: StateArg = None,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        priority: int | None = None,
    ) -> int:
        """Run tasks again from attempt zero: one id, or every failed task of a queue/name.

        Without ``state`` it retries failed tasks when selecting by queue or name, and any
        retryable state when given ids. Returns how many tasks were requeued.

        Edit and retry: with one task id (a str) and any of ``args``, ``kwargs``,
        ``queue`` or ``priority``, those fields of that failed or cancelled task are
        replaced (``queue`` is then the task's new queue, not a selection) and it is
        queued again, in one atomic step; the previous values go into its history. A task
        in another state, or changed meanwhile, raises TaskStateError and nothing changes.
        """
        basket = cast("Basket", self)
        editing = args is not None or kwargs is not None or priority is not None
        if editing and not isinstance(task_id, str):
            raise ConfigurationError(
                "retry with args=, kwargs= or priority= edits one task: pass its id as a "
                f"str, got {task_id!r}")
        if isinstance(task_id, str) and (editing or queue is not None):
            if name is not None or state is not None:
                raise ConfigurationError(
                    "edit and retry takes one task id and the fields to change; name= and "
                    "state= select tasks, which an edit does not")
            changes = _checked_changes(args, kwargs, queue, priority)
            return edit_and_retry(basket.backend, task_id, changes, basket.registry,
                                  basket.max_payload_bytes)
        return steering.retry_tasks(basket.backend, task_id, queue, name, state)


def _checked_changes(args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None,
                     queue: NamesArg, priority: int | None) -> dict[str, Any]:
    """The fields to change, each checked (ConfigurationError naming the bad one)."""
    changes: dict[str, Any] = {}
    if args is not None:
        changes["args"] = check_args(args)
    if kwargs is not None:
        changes["kwargs"] = check_kwargs(kwargs)
    if queue is not None:
        if not isinstance(queue, str):
            raise ConfigurationError(
                f"queue must be one queue name when editing a task, got {queue!r}")
        changes["queue"] = check_name("queue", queue)
    if priority is not None:
        changes["priority"] = check_priority(priority)
    return changes


__all__ = ["EDITABLE_STATES", "Editing", "check_args", "check_kwargs", "edit_and_retry"]
