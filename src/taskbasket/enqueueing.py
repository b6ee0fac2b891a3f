"""Enqueue machinery of the Basket: calls of a task turned into NewTasks and stored.

Binds each call's arguments to its registered handler (when there is one), fills in the
options a call leaves out (from the task's decorator, else the basket's defaults),
validates and encodes them, inserts the batch in one transaction (on the application's
connection, for transactional enqueue) and emits the ``enqueued`` events.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from taskbasket.app_connection import driver_connection, driver_connection_async
from taskbasket.backends.base import NewTask
from taskbasket.codec import encode_arguments
from taskbasket.definition import EnqueueOptions, refuse_async_connection
from taskbasket.dependencies import check_workflows, dependency_ids, joined_workflow
from taskbasket.errors import BackendUnavailableError, ConfigurationError
from taskbasket.events import Event, EventKind, Hooks
from taskbasket.ids import new_task_ids
from taskbasket.limits import NO_FLOW, limit_keys
from taskbasket.task import TaskRef
from taskbasket.typed import RECEIVED
from taskbasket.validation import (
    check_delay,
    check_max_attempts,
    check_name,
    check_priority,
    check_run_at,
    check_timeout,
    check_unique_key,
)

if TYPE_CHECKING:
    from taskbasket.basket import Basket

DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_TIMEOUT = 300.0

Calls = Sequence[tuple[Sequence[Any], Mapping[str, Any]]]
"""Calls of one task: each its positional and keyword arguments."""


def new_tasks(
    basket: Basket,
    name: str,
    calls: Calls,
    options: EnqueueOptions,
    headers: Mapping[str, str] | None = None,
    received: bool = False,
) -> list[NewTask]:
    """The NewTasks of ``calls`` of task ``name``: checked, with their options resolved
    and their arguments encoded (ConfigurationError or TypeError says what is wrong).

    ``received``: each call gets one more first positional argument when it runs (a
    workflow step's input), checked here as a stand-in."""
    check_name("task", name)
    definition = basket.registry.get(name)
    if definition is not None:
        if received:
            calls = [((RECEIVED, *args), kwargs) for args, kwargs in calls]
        definition.check_arguments(calls)
    keys = limit_keys(name, definition.flow if definition else NO_FLOW, options.limit_key,
                      calls)
    if definition is not None:
        calls = definition.wire_calls(calls)
        if received:
            calls = [(tuple(args)[1:], kwargs) for args, kwargs in calls]
    queue = options.queue if options.queue is not None else (
        definition.queue if definition else basket.default_queue
    )
    check_name("queue", queue)
    priority = check_priority(
        options.priority if options.priority is not None
        else (definition.priority if definition else 0)
    )
    max_attempts = check_max_attempts(
        options.max_attempts if options.max_attempts is not None
        else (definition.max_attempts if definition else DEFAULT_MAX_ATTEMPTS)
    )
    timeout = check_timeout(
        options.timeout if options.timeout is not None
        else (definition.timeout if definition else DEFAULT_TIMEOUT)
    )
    if options.delay is not None and options.run_at is not None:
        raise ConfigurationError("pass either delay or run_at, not both")
    delay = check_delay("delay", options.delay) if options.delay else 0.0
    run_at = check_run_at(options.run_at) if options.run_at is not None else None
    unique_key = check_unique_key(options.unique_key)
    if unique_key is not None and len(calls) > 1:
        raise ConfigurationError(
            "unique_key applies to one task; enqueue_many would give every call the same "
            "key. Enqueue them one by one with their own keys"
        )
    depends_on: tuple[str, ...] = ()
    if options.after is not None:
        check_workflows(basket.backend, basket.url)
        depends_on = tuple(dependency_ids(options.after, basket.url))
        if depends_on and (delay or run_at is not None):
            raise ConfigurationError(
                "after= cannot be combined with delay or run_at: a task that waits for its "
                "dependencies runs as soon as the last one succeeds")
    max_bytes = basket.max_payload_bytes
    payloads = [encode_arguments(name, args, kwargs, max_bytes, headers)
                for args, kwargs in calls]
    ids = new_task_ids(len(payloads))
    workflow_id = (joined_workflow(basket.backend, ids[0], depends_on)
                   if depends_on and ids else None)
    return [
        NewTask(
            id=task_id, name=name, queue=queue, payload=payload, priority=priority,
            max_attempts=max_attempts, timeout=timeout, unique_key=unique_key,
            delay=delay, run_at=run_at, depends_on=depends_on, workflow_id=workflow_id,
            limit_key=key,
        )
        for task_id, payload, key in zip(ids, payloads, keys, strict=True)
    ]


def enqueue_calls(
    basket: Basket, name: str, calls: Calls, options: EnqueueOptions
) -> list[TaskRef]:
    """Validate, encode and store calls of task ``name`` in one transaction (or, in inline
    mode, run them at once: ``taskbasket.testing.inline``)."""
    runner = basket.inline_runner
    if (runner is None and options.connection is not None
            and basket.backend.capabilities.transactional_enqueue):
        refuse_async_connection(options.connection)
    headers: dict[str, str] = {}
    # (without enqueue middleware, a null context: cheaper than an empty chain)
    scope = (basket.hooks.around_enqueue(name, headers) if basket.hooks.enqueue_middleware
             else contextlib.nullcontext())
    with scope:
        tasks = new_tasks(basket, name, calls, options, headers)
        if runner is not None:
            emit_enqueued(basket.hooks, tasks, [TaskRef(task.id) for task in tasks])
            return [TaskRef(ref.id, ref.created, basket) for ref in runner.run(tasks)]
        if options.connection is not None:  # the caller's transaction: its errors as they are
            refs = basket.backend.tasks_insert(tasks, driver_connection(options.connection))
        else:
            try:
                refs = basket.backend.tasks_insert(tasks, driver_connection(None))
            except BackendUnavailableError:
                raise
            except Exception as exc:
                if not basket.backend.is_transient(exc):
                    raise
                raise unanswered_enqueue(len(tasks), exc) from exc
    emit_enqueued(basket.hooks, tasks, refs)
    return [TaskRef(ref.id, ref.created, basket, task.workflow_id)
            for task, ref in zip(tasks, refs, strict=True)]


def unanswered_enqueue(count: int, exc: BaseException) -> BackendUnavailableError:
    """The error of an enqueue the store did not answer (unreachable, connection cut,
    too busy to take it in time: an error its backend calls transient)."""
    text = str(exc).strip()
    first = text.splitlines()[0][:300] if text else repr(exc)
    return BackendUnavailableError(
        f"the store did not answer an enqueue of {count} task(s) ({type(exc).__name__}: "
        f"{first}): it is unreachable, the connection was cut, or it could not take the "
        "batch in time. The "
        "tasks are stored only if the store committed them before the reply was lost (all "
        "or none: one transaction); retry once it answers, with unique_key= to make the "
        "retry safe")


async def enqueue_calls_async(
    basket: Basket, name: str, calls: Calls, options: EnqueueOptions
) -> list[TaskRef]:
    """``enqueue_calls`` without blocking the event loop, on a basket whose store is open."""
    headers: dict[str, str] = {}
    with basket.hooks.around_enqueue(name, headers):
        tasks = new_tasks(basket, name, calls, options, headers)
        runner = basket.inline_runner
        if runner is not None:
            emit_enqueued(basket.hooks, tasks, [TaskRef(task.id) for task in tasks])
            refs = await runner.run_async(tasks)
            return [TaskRef(ref.id, ref.created, basket) for ref in refs]
        connection = await driver_connection_async(options.connection)
        refs = await basket.backend.tasks_insert_async(tasks, connection)
    emit_enqueued(basket.hooks, tasks, refs)
    return [TaskRef(ref.id, ref.created, basket, task.workflow_id)
            for task, ref in zip(tasks, refs, strict=True)]


class InlineTasks(Protocol):
    """What a basket in inline mode hands its new tasks to instead of the store
    (``taskbasket.testing.inline``): each runs at once; their refs."""

    def run(self, tasks: Sequence[NewTask]) -> list[TaskRef]: ...

    async def run_async(self, tasks: Sequence[NewTask]) -> list[TaskRef]: ...


def emit_enqueued(hooks: Hooks, tasks: Sequence[NewTask], refs: Sequence[TaskRef]) -> None:
    """An ``enqueued`` event for each task the store created (not one a unique key found)."""
    if not hooks.wants(EventKind.ENQUEUED):
        return
    for task, ref in zip(tasks, refs, strict=True):
        if ref.created:
            hooks.emit(Event(EventKind.ENQUEUED, ref.id, task.name, task.queue,
                             max_attempts=task.max_attempts))
