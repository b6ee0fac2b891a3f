"""The MySQL store's operator actions on tasks (edit and retry, delete) over
``<prefix>tasks``, times by the server's clock; retry and cancel, which move dependents
too, are in ``workflows``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from taskbasket.backends.base import TaskEditParams, TaskFilter
from taskbasket.backends.mysql.session import Session
from taskbasket.backends.mysql.settings import Settings
from taskbasket.backends.mysql.statements import FILTER_DIALECT, edit_update
from taskbasket.backends.mysql.values import id_bytes
from taskbasket.backends.mysql.workflows import workflow_steps
from taskbasket.backends.sql_filters import filter_where

_DELETE_BATCH = 5000
"""The most rows one DELETE removes (a large delete runs as several)."""


class MySQLOperators:
    """Mixed into ``MySQLBackend``."""

    table: str
    settings: Settings
    _run: Callable[..., Any]

    def _write(self, sql: str, args: Sequence[Any]) -> int:
        raise NotImplementedError

    def _notify(self) -> None:
        raise NotImplementedError

    def tasks_edit(self, params: TaskEditParams) -> bool:
        raw = id_bytes(params.task_id)
        if raw is None:
            return False

        def work(session: Session) -> bool:
            if session.execute(edit_update(self.table, raw), [
                    params.payload, params.queue, params.priority, params.history,
                    params.expected_history]) != 1:
                return False
            steps = workflow_steps(session, self.settings)
            if steps.has_edges():
                steps.restore([params.task_id])  # its cancelled dependents wait again
            return True

        edited: bool = self._run(work, transaction=True, idempotent=False)
        if edited:
            self._notify()  # (its new queue's idle workers)
        return edited

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
