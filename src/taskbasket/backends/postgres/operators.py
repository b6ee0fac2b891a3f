"""The PostgreSQL store's operator actions on tasks (retry, edit and retry, cancel,
delete), each in one transaction with the workflow steps it causes (dependents brought
back by a retry or an edit, cancelled by a cancel)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import psycopg

from taskbasket.backends.base import CancelParams, TaskEditParams, TaskFilter
from taskbasket.backends.postgres.filters import is_uuid, where_clause
from taskbasket.backends.postgres.inserts import MAX_FIND_TRIES
from taskbasket.backends.postgres.settings import PostgresSettings
from taskbasket.backends.postgres.statements import Statements
from taskbasket.backends.postgres.workflows import workflow_steps
from taskbasket.backends.sql_filters import sql_states
from taskbasket.task import FINAL_STATES, RETRYABLE_STATES, State

_RETRYABLE = sql_states(RETRYABLE_STATES)
_UNFINISHED = sql_states(set(State) - FINAL_STATES)


class PostgresOperators:
    """Mixed into ``PostgresBackend``."""

    settings: PostgresSettings
    statements: Statements
    channel: str
    done_channel: str
    cancel_channel: str
    _connection: Callable[[], AbstractContextManager[psycopg.Connection[Any]]]
    _fetch: Callable[..., list[tuple[Any, ...]]]
    _rowcount: Callable[..., int]

    def tasks_retry(self, task_filter: TaskFilter) -> int:
        where, args = where_clause(task_filter)
        query = self.statements.retry(where)
        for attempt in range(MAX_FIND_TRIES):
            try:
                with self._connection() as conn, conn.transaction():
                    steps = workflow_steps(conn, self.settings)
                    ids = (steps.retryable_ids(where, args, _RETRYABLE)
                           if steps.has_edges() else [])
                    count = int(conn.execute(query, [*args, self.channel]).fetchall()[0][0])
                    if ids:
                        steps.restore(ids)
                    return count
            except psycopg.errors.UniqueViolation:
                # a task with one of the keys was enqueued meanwhile: look again
                if attempt == MAX_FIND_TRIES - 1:
                    raise
        return 0  # pragma: no cover

    def tasks_edit(self, params: TaskEditParams) -> bool:
        if not is_uuid(params.task_id):
            return False
        try:
            with self._connection() as conn, conn.transaction():
                rows = conn.execute(self.statements.edit, [
                    params.payload, params.queue, params.priority, params.history,
                    str(params.task_id), params.expected_history, self.channel]).fetchall()
                edited = int(rows[0][0]) == 1
                steps = workflow_steps(conn, self.settings)
                if edited and steps.has_edges():
                    steps.restore([str(params.task_id)])  # its cancelled dependents wait again
        except psycopg.errors.UniqueViolation:
            return False  # a task with its key was enqueued meanwhile: left as it is
        return edited

    def tasks_cancel(self, params: CancelParams) -> int:
        where, args = where_clause(params.filter)
        with self._connection() as conn, conn.transaction():
            steps = workflow_steps(conn, self.settings)
            ids = (steps.retryable_ids(where, args, _UNFINISHED) if steps.has_edges() else [])
            count = conn.execute(self.statements.cancel(where), [params.reason, *args]).rowcount
            if ids:
                steps.cascade(ids)
        if count:
            self._fetch("SELECT pg_notify(%s, ''), pg_notify(%s, '')",
                        [self.done_channel, self.cancel_channel])
        return count

    def tasks_delete(self, task_filter: TaskFilter) -> int:
        where, args = where_clause(task_filter)
        return self._rowcount(self.statements.delete(where), args)


__all__ = ["PostgresOperators"]
