"""What the SQL stores share to turn a ``TaskFilter`` into a WHERE clause, and state sets
into SQL lists. The SQL stays per dialect (no query builder): each store supplies a
``FilterDialect`` with its own fragments for a list of ids, a list of values, and "final
and finished that many seconds ago by the store's clock"."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from taskbasket.backends.base import TaskFilter
from taskbasket.task import ALL_STATES, FINAL_STATES, PENDING_STATES, State

Fragment = tuple[str, list[Any]]
"""A piece of SQL and the parameters its placeholders take."""


def sql_states(states: Iterable[State]) -> str:
    """``('queued','scheduled')``: states as an SQL list, in the order of ``State``, so
    that a statement's text matches its partial index's predicate exactly."""
    chosen = set(states)
    return "(" + ",".join(f"'{state.value}'" for state in ALL_STATES if state in chosen) + ")"


SQL_PENDING = sql_states(PENDING_STATES)
"""('queued','scheduled','retrying'): the states a claim may take a task from."""
SQL_FINAL = sql_states(FINAL_STATES)
"""('succeeded','failed','cancelled'): the states a task never leaves by itself."""


@dataclass(frozen=True)
class FilterDialect:
    """One SQL dialect's fragments for a filter.

    ``ids(ids)`` and ``values(column, values)`` are only called with non-empty lists;
    ``ids`` returns None when no id can match (say, none is a valid UUID).
    ``finished_before(seconds)`` selects tasks that finished more than ``seconds`` ago.
    """

    true: str
    false: str
    ids: Callable[[Sequence[str]], Fragment | None]
    values: Callable[[str, Sequence[str]], Fragment]
    finished_before: Callable[[float], Fragment]
    workflow: Callable[[str], Fragment | None] | None = None
    """``workflow(id)`` selects the tasks of a workflow (``TaskFilter.workflow_id``);
    a store without workflows leaves it None and matches nothing."""


def filter_where(task_filter: TaskFilter, dialect: FilterDialect) -> Fragment:
    """The WHERE clause (without the keyword) and its parameters for ``task_filter``.
    An empty list selects nothing; a field left None selects everything."""
    clauses: list[str] = []
    params: list[Any] = []

    def add(fragment: Fragment | None) -> None:
        if fragment is None:
            clauses.append(dialect.false)
        else:
            clauses.append(fragment[0])
            params.extend(fragment[1])

    if task_filter.ids is not None:
        add(dialect.ids(task_filter.ids) if task_filter.ids else None)
    for column, values in (
        ("state", task_filter.states), ("queue", task_filter.queues),
        ("name", task_filter.names),
    ):
        if values is not None:
            add(dialect.values(column, [str(v) for v in values]) if values else None)
    if task_filter.finished_before is not None:
        text, more = dialect.finished_before(float(task_filter.finished_before))
        add((f"state IN {SQL_FINAL} AND {text}", more))
    if task_filter.workflow_id is not None:
        add(dialect.workflow(task_filter.workflow_id) if dialect.workflow else None)
    return (" AND ".join(clauses) or dialect.true), params


__all__ = ["SQL_FINAL", "SQL_PENDING", "FilterDialect", "Fragment", "filter_where",
           "sql_states"]
