"""The MySQL store's reads for operators and dashboards: one task, a page, counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskbasket.backends.base import CountByNameParams, ListParams, StoredTask, TaskFilter
from taskbasket.backends.mysql.statements import FILTER_DIALECT
from taskbasket.backends.mysql.values import (
    COLUMNS,
    COLUMNS_WITHOUT_PAYLOAD,
    hex_literal,
    id_bytes,
    read_row,
)
from taskbasket.backends.rows import state_counts
from taskbasket.backends.sql_filters import filter_where
from taskbasket.errors import ConfigurationError
from taskbasket.task import CorruptTask, State


class MySQLInspection:
    """Mixed into ``MySQLBackend``."""

    table: str

    def _read(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def tasks_get(self, task_id: str) -> StoredTask | CorruptTask | None:
        raw = id_bytes(task_id)
        if raw is None:
            return None
        rows = self._read(f"SELECT {COLUMNS} FROM {self.table} WHERE id = {hex_literal(raw)}")
        return read_row(rows[0]) if rows else None

    def tasks_list(self, params: ListParams) -> list[StoredTask | CorruptTask]:
        where, args = filter_where(params.filter, FILTER_DIALECT)
        if params.before_id is not None:
            raw = id_bytes(params.before_id)
            if raw is None:
                raise ConfigurationError(
                    f"before={params.before_id!r} is not a task id; pass the id of the last "
                    "task of the previous page"
                )
            where += f" AND id < {hex_literal(raw)}"
        columns = COLUMNS if params.with_payload else COLUMNS_WITHOUT_PAYLOAD
        rows = self._read(
            f"SELECT {columns} FROM {self.table} WHERE {where} ORDER BY id DESC "
            f"LIMIT {max(0, int(params.limit))}",
            args,
        )
        return [read_row(row) for row in rows]

    def tasks_count(self, task_filter: TaskFilter) -> int:
        where, args = filter_where(task_filter, FILTER_DIALECT)
        return int(self._read(f"SELECT COUNT(*) FROM {self.table} WHERE {where}", args)[0][0])

    def tasks_stats(self) -> dict[tuple[str, State], int]:
        rows = self._read(
            f"SELECT queue, state, COUNT(*) FROM {self.table} GROUP BY queue, state"
        )
        return state_counts(rows)

    def tasks_count_by_name(self, params: CountByNameParams) -> dict[str, int]:
        states = [str(s) for s in params.states]
        if not states:
            return {}
        rows = self._read(
            f"SELECT name, COUNT(*) FROM {self.table} WHERE state IN "
            f"({', '.join(['%s'] * len(states))}) GROUP BY name", states)
        return {name: int(count) for name, count in rows}
