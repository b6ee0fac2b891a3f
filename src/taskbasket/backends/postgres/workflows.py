"""The PostgreSQL store's workflow steps (``sql_workflows``): each runs in the transaction
of the change that causes it (an insert, an outcome, a rescue, a retry or a cancel)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg

from taskbasket.backends.postgres.settings import PostgresSettings
from taskbasket.backends.sql_workflows import WorkflowDialect, WorkflowSteps
from taskbasket.backends.workflow_params import DependenciesListParams


def dialect(settings: PostgresSettings) -> WorkflowDialect:
    return WorkflowDialect(
        tasks=settings.table, edges=f"{settings.quoted_schema}.dependencies", mark="%s",
        now="now()", id_mark="%s::uuid", id_select="{column}::text", share_lock="FOR SHARE",
    )


def workflow_steps(conn: psycopg.Connection[Any], settings: PostgresSettings) -> WorkflowSteps:
    """The workflow steps on ``conn``'s open transaction."""

    def run(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []

    return WorkflowSteps(dialect(settings), run)


class PostgresWorkflows:
    """The PostgreSQL backend's ``dependencies_list`` (mixed into ``PostgresBackend``)."""

    settings: PostgresSettings
    _connection: Callable[[], AbstractContextManager[psycopg.Connection[Any]]]

    def dependencies_list(self, params: DependenciesListParams) -> dict[str, list[str]]:
        if not params.task_ids:
            return {}
        with self._connection() as conn:
            return workflow_steps(conn, self.settings).dependencies(params.task_ids)


__all__ = ["PostgresWorkflows", "dialect", "workflow_steps"]
