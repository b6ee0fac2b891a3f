"""Assertions about what code under test enqueued: ``enqueued``, ``assert_enqueued`` and
``refute_enqueued``.

A task matches when its name is the one given (a registered task or its name), and, for
each of ``args``, ``kwargs``, ``queue``, ``priority`` and ``state`` that is given, it
agrees: ``args`` must equal the task's positional arguments, ``kwargs`` must be a subset
of its keyword arguments (keys not given are unchecked), ``state`` may be one state or
several. Arguments are compared as stored (JSON: a tuple matches a list). By default only
tasks waiting to run count (queued, scheduled or retrying), as "enqueued" says.

A failed assertion lists what *was* enqueued, closest to the expectation first.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from taskbasket.task import PENDING_STATES, State, Task

if TYPE_CHECKING:
    from taskbasket.basket import Basket

SHOWN = 10
"""At most this many enqueued tasks are listed in a failed assertion's message."""
_PAGE = 500
_PENDING = tuple(state for state in State if state in PENDING_STATES)


def _name_of(task: Any) -> str | None:
    if task is None or isinstance(task, str):
        return task
    definition = getattr(task, "definition", task)  # a BoundTask carries its definition
    name = getattr(definition, "name", None)
    if not isinstance(name, str):
        raise TypeError(f"expected a task (registered with @basket.task) or its name, "
                        f"got {task!r}")
    return name


def _as_stored(value: Any) -> Any:
    """``value`` as it reads back from the store (tuples become lists, ...)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return value  # not JSON: it cannot match a stored argument, and says so below


def _states(state: State | str | Iterable[State | str] | None) -> tuple[State, ...]:
    if state is None:
        return _PENDING
    if isinstance(state, str):
        return (State(state),)
    return tuple(State(s) for s in state)


class _Expectation:
    def __init__(self, task: Any, args: Sequence[Any] | None,
                 kwargs: Mapping[str, Any] | None, queue: str | None,
                 priority: int | None, state: Any) -> None:
        self.name = _name_of(task)
        self.args = None if args is None else _as_stored(list(args))
        self.kwargs = None if kwargs is None else _as_stored(dict(kwargs))
        self.queue = queue
        self.priority = priority
        self.states = _states(state)

    def matches(self, task: Task) -> bool:
        return ((self.name is None or task.name == self.name)
                and (self.queue is None or task.queue == self.queue)
                and (self.priority is None or task.priority == self.priority)
                and (self.args is None or task.args == self.args)
                and (self.kwargs is None or all(
                    key in task.kwargs and task.kwargs[key] == value
                    for key, value in self.kwargs.items())))

    def closeness(self, task: Task) -> float:
        """How near ``task`` comes, 0 to 4: name, queue, and the arguments' likeness."""
        score = float(self.name is None or task.name == self.name)
        score += float(self.queue is None or task.queue == self.queue)
        if self.args is not None:
            score += difflib.SequenceMatcher(None, repr(self.args), repr(task.args)).ratio()
        if self.kwargs is not None:
            score += difflib.SequenceMatcher(None, repr(self.kwargs), repr(task.kwargs)).ratio()
        return score

    def describe(self) -> str:
        parts = [self.name or "any task"]
        if self.args is not None:
            parts.append(f"args={tuple(self.args)!r}")
        if self.kwargs is not None:
            parts.append(f"kwargs (at least)={self.kwargs!r}")
        if self.queue is not None:
            parts.append(f"queue={self.queue!r}")
        if self.priority is not None:
            parts.append(f"priority={self.priority}")
        parts.append("state " + "/".join(s.value for s in self.states))
        return ", ".join(parts)


def _all_tasks(basket: Basket, states: tuple[State, ...]) -> list[Task]:
    found: list[Task] = []
    before: str | None = None
    while True:
        page = basket.list(list(states), limit=_PAGE, before=before)
        found.extend(page)
        if len(page) < _PAGE or page.last_id is None:
            return found
        before = page.last_id


def _call(task: Task) -> str:
    arguments = [repr(a) for a in task.args] + [f"{k}={v!r}" for k, v in task.kwargs.items()]
    return (f"{task.name}({', '.join(arguments)}) queue={task.queue!r} "
            f"priority={task.priority} state={task.state.value} id={task.id}")


def _report(expected: _Expectation, tasks: list[Task], found: int, wanted: str) -> str:
    lines = [f"expected {wanted} task(s) matching {expected.describe()}; found {found}."]
    if not tasks:
        lines.append("Nothing was enqueued in those states.")
        return "\n".join(lines)
    nearest = sorted(tasks, key=expected.closeness, reverse=True)
    lines.append(f"Enqueued ({len(tasks)}, closest first):")
    lines += [f"  {'*' if expected.matches(t) else '-'} {_call(t)}" for t in nearest[:SHOWN]]
    if len(tasks) > SHOWN:
        lines.append(f"  ... and {len(tasks) - SHOWN} more")
    return "\n".join(lines)


def enqueued(
    basket: Basket, task: Any = None, *, args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None, queue: str | None = None,
    priority: int | None = None, state: State | str | Iterable[State | str] | None = None,
) -> list[Task]:
    """The matching tasks (see the module's docstring), newest first."""
    expected = _Expectation(task, args, kwargs, queue, priority, state)
    return [t for t in _all_tasks(basket, expected.states) if expected.matches(t)]


def assert_enqueued(
    basket: Basket, task: Any = None, *, args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None, queue: str | None = None,
    priority: int | None = None, state: State | str | Iterable[State | str] | None = None,
    count: int | None = None,
) -> list[Task]:
    """Fail (AssertionError) unless some task matches, or exactly ``count`` do; the
    matching tasks, newest first."""
    expected = _Expectation(task, args, kwargs, queue, priority, state)
    tasks = _all_tasks(basket, expected.states)
    matching = [t for t in tasks if expected.matches(t)]
    if (not matching) if count is None else len(matching) != count:
        wanted = "at least 1" if count is None else f"exactly {count}"
        raise AssertionError(_report(expected, tasks, len(matching), wanted))
    return matching


def refute_enqueued(
    basket: Basket, task: Any = None, *, args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None, queue: str | None = None,
    priority: int | None = None, state: State | str | Iterable[State | str] | None = None,
) -> None:
    """Fail (AssertionError) if any task matches, listing those that do."""
    expected = _Expectation(task, args, kwargs, queue, priority, state)
    tasks = _all_tasks(basket, expected.states)
    matching = [t for t in tasks if expected.matches(t)]
    if matching:
        raise AssertionError(_report(expected, matching, len(matching), "no"))


__all__ = ["assert_enqueued", "enqueued", "refute_enqueued"]
