"""The PostgreSQL store's reads for operators and dashboards: one task, a page, counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskbasket.backends.base import (
    CountByNameParams,
    ListParams,
    StoredTask,
    TaskFilter,
)
from taskbasket.backends.postgres.filters import is_uuid, where_clause
from taskbasket.backends.postgres.rows import read_row
from taskbasket.backends.postgres.statements import Statements
from taskbasket.backends.rows import state_counts
from taskbasket.errors import ConfigurationError
from taskbasket.task import CorruptTask, State


class PostgresInspection:
    """Mixed into ``PostgresBackend``."""

    statements: Statements

    def _fetch(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def tasks_get(self, task_id: str) -> StoredTask | CorruptTask | None:
        if not is_uuid(task_id):
            return None
        rows = self._fetch(self.statements.get, [str(task_id)])
        return read_row(rows[0]) if rows else None

    def tasks_list(self, params: ListParams) -> list[StoredTask | CorruptTask]:
        where, args = where_clause(params.filter)
        if params.before_id is not None:
            if not is_uuid(params.before_id):
                raise ConfigurationError(
                    f"before={params.before_id!r} is not a task id; pass the id of the last "
                    "task of the previous page"
                )
            where += " AND id < %s::uuid"
            args.append(str(params.before_id))
        rows = self._fetch(self.statements.page(where, params.with_payload),
                           [*args, params.limit])
        return [read_row(row) for row in rows]

    def tasks_count(self, task_filter: TaskFilter) -> int:
        where, args = where_clause(task_filter)
        return int(self._fetch(self.statements.count(where), args)[0][0])

    def tasks_stats(self) -> dict[tuple[str, State], int]:
        return state_counts(self._fetch(self.statements.stats))

    def tasks_count_by_name(self, params: CountByNameParams) -> dict[str, int]:
        if not params.states:
            return {}
        rows = self._fetch(self.statements.count_by_name, [[str(s) for s in params.states]])
        return {name: int(count) for name, count in rows}
