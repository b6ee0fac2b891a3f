"""Which strings can name a stored task (a UUID, in any of PostgreSQL's spellings), and
PostgreSQL's fragments for the shared filter: lists are passed as one array parameter."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from taskbasket.backends.base import TaskFilter
from taskbasket.backends.sql_filters import FilterDialect, Fragment, filter_where

_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)


def is_uuid(value: object) -> bool:
    """Whether ``value`` can be a task id; any other string names no stored task."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def _ids(ids: Sequence[str]) -> Fragment | None:
    valid = [value for value in ids if is_uuid(value)]
    return ("id = ANY(%s::uuid[])", [valid]) if valid else None


def _values(column: str, values: Sequence[str]) -> Fragment:
    return f"{column} = ANY(%s::text[])", [list(values)]


def _finished_before(seconds: float) -> Fragment:
    return "finished_at < now() - %s::float8 * interval '1 second'", [seconds]


def _workflow(workflow_id: str) -> Fragment | None:
    if not is_uuid(workflow_id):
        return None
    return "(workflow_id = %s::uuid OR id = %s::uuid)", [workflow_id, workflow_id]


POSTGRES_FILTERS = FilterDialect(
    true="true", false="false", ids=_ids, values=_values, finished_before=_finished_before,
    workflow=_workflow,
)


def where_clause(task_filter: TaskFilter) -> tuple[str, list[Any]]:
    """The WHERE clause (without the keyword) and its parameters for a filter."""
    return filter_where(task_filter, POSTGRES_FILTERS)


__all__ = ["POSTGRES_FILTERS", "is_uuid", "where_clause"]
