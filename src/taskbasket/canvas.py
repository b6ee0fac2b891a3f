"""Signatures, chains and groups: a workflow described before it is enqueued.

``task.s(*args, **kwargs)`` is a signature (a call not made yet); in a ``chain`` each step
receives the previous step's result as its first positional argument (``task.si(...)``
receives nothing), and a ``group`` runs its members in parallel and hands the list of
their results, in order, to the next step. ``enqueue()`` inserts every task of the
workflow in one atomic call (``taskbasket.workflow_enqueue``) and returns the ref of the
last step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from taskbasket.errors import ConfigurationError
from taskbasket.task import TaskRef

if TYPE_CHECKING:
    from taskbasket.definition import BoundTask, TaskDefinition

Node = Union["Signature", "Chain", "Group"]


class _Canvas:
    """What signatures, chains and groups share: an async enqueue and ``a | b`` chaining."""

    def enqueue(self) -> TaskRef:
        raise NotImplementedError

    async def enqueue_async(self) -> TaskRef:
        """``enqueue`` without blocking the event loop (it runs in a thread)."""
        return await asyncio.to_thread(self.enqueue)

    def __or__(self, other: Node) -> Chain:
        return chain(self, other)  # type: ignore[arg-type]  # only the three subclasses exist


@dataclass(frozen=True)
class Signature(_Canvas):
    """One call of a task, to be enqueued as a step of a workflow.

    ``immutable`` (``task.si``): the step receives nothing from the steps before it."""

    task: TaskDefinition[Any, Any] | BoundTask[Any, Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    immutable: bool = False

    def enqueue(self) -> TaskRef:
        """Enqueue this one step as a workflow of one task; its ref."""
        return chain(self).enqueue()



@dataclass(frozen=True)
class Chain(_Canvas):
    """Steps run one after the other, each receiving the previous step's result."""

    steps: tuple[Node, ...]

    def enqueue(self) -> TaskRef:
        """Insert every task of the chain in one atomic call; the last step's ref."""
        return _enqueue(self)



@dataclass(frozen=True)
class Group(_Canvas):
    """Members run in parallel; the next step receives the list of their results."""

    members: tuple[Node, ...]

    def enqueue(self) -> TaskRef:
        """Insert every task of the group in one atomic call; a ``GroupRef``."""
        return _enqueue(self)



def first_signature(node: Node) -> Signature:
    """The first step of a workflow (whose task's basket enqueues it)."""
    while not isinstance(node, Signature):
        node = node.steps[0] if isinstance(node, Chain) else node.members[0]
    return node


def _enqueue(node: Node) -> TaskRef:
    """Enqueue ``node`` through the basket of its first step's task."""
    task: Any = first_signature(node).task
    ref: TaskRef = getattr(task, "definition", task).basket.enqueue_workflow(node)
    return ref


def _nodes(kind: str, items: Iterable[Any]) -> tuple[Node, ...]:
    nodes = tuple(items)
    if not nodes:
        raise ConfigurationError(f"{kind}() needs at least one signature, e.g. "
                                 f"{kind}(fetch.s(url), parse.s())")
    for node in nodes:
        if not isinstance(node, Signature | Chain | Group):
            hint = " (write task.s(...) for a step)" if callable(node) else ""
            raise ConfigurationError(
                f"{kind}() takes signatures, chains and groups; got {type(node).__name__}"
                f"{hint}")
    return nodes


def chain(*steps: Node) -> Chain:
    """Steps one after the other: ``chain(fetch.s(url), parse.s(), store.s())``."""
    return Chain(_nodes("chain", steps))


def group(*members: Node | Iterable[Node]) -> Group:
    """Members in parallel: ``group(resize.s(p) for p in paths)`` or
    ``group(a.s(), b.s())``."""
    if len(members) == 1 and not isinstance(members[0], Signature | Chain | Group):
        return Group(_nodes("group", members[0]))
    return Group(_nodes("group", members))


@dataclass(frozen=True, eq=False)
class GroupRef(TaskRef):
    """The ref of a workflow whose last step is a group: ``id`` is its last member's,
    ``refs`` are every member's, and ``result()`` is the list of their results."""

    refs: tuple[TaskRef, ...] = ()

    def result(self, timeout: float | None = None) -> Any:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        results = []
        for ref in self.refs:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            results.append(ref.result(timeout=left))
        return results

    async def result_async(self, timeout: float | None = None) -> Any:
        async with asyncio.timeout(timeout):
            return [await ref.result_async() for ref in self.refs]


__all__ = ["Chain", "Group", "GroupRef", "Node", "Signature", "chain", "first_signature",
           "group"]
