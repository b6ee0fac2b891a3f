"""A chain or group turned into tasks and inserted in one atomic call.

The plan walks the workflow in order, so each task comes after the tasks it depends on:
a step depends on the tails of what came before it (the previous step, or every member
of the previous group) and, unless immutable, receives their results
(``worker/inputs``). Every task gets the workflow's id, the id of its first task.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from taskbasket.backends.base import NewTask
from taskbasket.canvas import Chain, Group, GroupRef, Node, Signature
from taskbasket.definition import BoundTask, EnqueueOptions
from taskbasket.dependencies import check_acyclic, check_workflows, dependency_ids
from taskbasket.enqueueing import emit_enqueued, new_tasks
from taskbasket.errors import ConfigurationError, UnsupportedOperationError
from taskbasket.task import TaskRef
from taskbasket.worker.inputs import INPUTS_HEADER, inputs_header

if TYPE_CHECKING:
    from taskbasket.basket import Basket


@dataclass(frozen=True)
class Tail:
    """What flows into the next step: the planned tasks' indexes, and whether the next
    step receives them as a list (after a group) or the one result."""

    indexes: tuple[int, ...]
    as_list: bool


@dataclass
class Planned:
    signature: Signature
    depends_on: tuple[int, ...]
    receives: Tail | None


def _plan(node: Node, upstream: Tail | None, out: list[Planned]) -> Tail:
    if isinstance(node, Signature):
        receives = None if node.immutable or upstream is None else upstream
        out.append(Planned(node, upstream.indexes if upstream else (), receives))
        return Tail((len(out) - 1,), False)
    if isinstance(node, Chain):
        tail = upstream
        for step in node.steps:
            tail = _plan(step, tail, out)
        assert tail is not None  # a chain has a step
        return tail
    indexes: list[int] = []
    for member in node.members:
        tail = _plan(member, upstream, out)
        if tail.as_list and not isinstance(member, Group):
            raise ConfigurationError(
                "a group's member cannot end in a group (its result would be a list of "
                "lists): end the member with a step that gathers it, e.g. "
                "chain(group(...), gather.s())")
        indexes.extend(tail.indexes)
    return Tail(tuple(indexes), True)


def _split(signature: Signature) -> tuple[str, EnqueueOptions]:
    task = signature.task
    if isinstance(task, BoundTask):
        return task.definition.name, task.opts
    return task.name, EnqueueOptions()


def workflow_tasks(basket: Basket, node: Node) -> tuple[list[NewTask], Tail]:
    """The NewTasks of ``node``, dependencies first, and the tail of its last step."""
    planned: list[Planned] = []
    tail = _plan(node, None, planned)
    tasks: list[NewTask] = []
    for step in planned:
        name, options = _split(step.signature)
        external = dependency_ids(options.after, basket.url) if options.after else []
        if options.connection is not None:
            raise ConfigurationError("connection= is not supported in a chain or group")
        headers: dict[str, str] = {}
        if step.receives is not None:
            headers[INPUTS_HEADER] = inputs_header(
                [tasks[i].id for i in step.receives.indexes], step.receives.as_list)
        depends_on = (*[tasks[i].id for i in step.depends_on], *external)
        if depends_on and (options.delay or options.run_at is not None):
            raise ConfigurationError(
                f"step {name!r} waits for the steps before it, so it cannot take delay or "
                "run_at: it runs as soon as they succeed")
        with basket.hooks.around_enqueue(name, headers):
            [task] = new_tasks(basket, name, [(step.signature.args, step.signature.kwargs)],
                               dataclasses.replace(options, after=None), headers,
                               received=step.receives is not None)
        workflow_id = tasks[0].id if tasks else task.id
        tasks.append(dataclasses.replace(task, depends_on=tuple(dict.fromkeys(depends_on)),
                                         workflow_id=workflow_id))
    check_acyclic({task.id: task.depends_on for task in tasks})
    return tasks, tail


def enqueue_workflow(basket: Basket, node: Node) -> TaskRef:
    """Insert every task of ``node`` in one atomic call; the ref of its last step (a
    ``GroupRef`` when that is a group)."""
    if basket.inline_runner is not None:
        raise UnsupportedOperationError(
            "inline mode runs each task as it is enqueued, so it cannot run a chain or "
            "group; test workflows with a memory:// basket and taskbasket.testing.drain")
    check_workflows(basket.backend, basket.url)
    tasks, tail = workflow_tasks(basket, node)
    stored = basket.backend.tasks_insert(tasks)
    emit_enqueued(basket.hooks, tasks, stored)
    workflow_id = tasks[0].workflow_id
    refs = [TaskRef(ref.id, ref.created, basket, workflow_id) for ref in stored]
    last = refs[tail.indexes[-1]]
    if not tail.as_list:
        return last
    return GroupRef(last.id, last.created, basket, workflow_id,
                    refs=tuple(refs[i] for i in tail.indexes))


__all__ = ["enqueue_workflow", "workflow_tasks"]
