"""The MySQL store's operator actions on tasks (retry, edit and retry, cancel, delete):
one statement each over ``<prefix>tasks``, times by the server's clock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskbasket.backends.base import CancelParams, TaskEditParams, TaskFilter
from taskbasket.backends.mysql.statements import (
    FILTER_DIALECT,
    NOW,
    SQL_LIVE,
    edit_update,
    retry_update,
)
from taskbasket.backends.mysql.values import id_bytes
from taskbasket.backends.sql_filters import filter_where

_DELETE_BATCH = 5000
"""The most rows one DELETE removes (a large delete runs as several)."""


class MySQLOperators:
    """Mixed into ``MySQLBackend``."""

    table: str

    def _write(self, sql: str, args: Sequence[Any]) -> int:
        raise NotImplementedError

    def _notify(self) -> None:
        raise NotImplementedError

    def tasks_retry(self, task_filter: TaskFilter) -> int:
        where, args = filter_where(task_filter, FILTER_DIALECT)
        if count := self._write(retry_update(self.table, where), args):
            self._notify()
        return count

    def tasks_edit(self, params: TaskEditParams) -> bool:
        raw = id_bytes(params.task_id)
        edited = raw is not None and self._write(edit_update(self.table, raw), [
            params.payload, params.queue, params.priority, params.history,
            params.expected_history]) == 1
        if edited:
            self._notify()  # (its new queue's idle workers)
        return edited

    def tasks_cancel(self, params: CancelParams) -> int:
        where, args = filter_where(params.filter, FILTER_DIALECT)
        return self._write(
            f"UPDATE {self.table} SET state = 'cancelled', finished_at = {NOW}, last_error = "
            f"%s, lease_token = NULL, lease_expires_at = NULL WHERE state IN {SQL_LIVE} "
            f"AND {where}",
            [params.reason, *args],
        )

    def tasks_delete(self, task_filter: TaskFilter) -> int:
        where, args = filter_where(task_filter, FILTER_DIALECT)
        total = 0
        while True:
            deleted = self._write(
                f"DELETE FROM {self.table} WHERE {where} LIMIT {_DELETE_BATCH}", args
            )
            total += deleted
            if deleted < _DELETE_BATCH:
                return total
