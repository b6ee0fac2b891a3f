"""The SQLite store's workflow steps (``sql_workflows``), on the write transaction of the
change that causes each, and its listing of dependencies."""

from __future__ import annotations

import sqlite3
from typing import Any

from taskbasket.backends.sql_workflows import WorkflowDialect, WorkflowSteps
from taskbasket.backends.sqlite.connections import SQLiteConnections
from taskbasket.backends.sqlite.schema import DEPENDENCIES, TABLE
from taskbasket.backends.workflow_params import DependenciesListParams

DIALECT = WorkflowDialect(
    tasks=TABLE, edges=DEPENDENCIES, mark="?",
    now="((julianday('now') - 2440587.5) * 86400.0)",
)
"""Times are Unix seconds, as the backend writes them from this host's clock."""


def workflow_steps(conn: sqlite3.Connection) -> WorkflowSteps:
    """The workflow steps on ``conn``'s open transaction."""

    def run(sql: str, params: Any) -> list[tuple[Any, ...]]:
        return conn.execute(sql, params).fetchall()

    return WorkflowSteps(DIALECT, run)


class SQLiteWorkflows:
    """The SQLite backend's ``dependencies_list`` (mixed into ``SQLiteBackend``)."""

    _connections: SQLiteConnections

    def dependencies_list(self, params: DependenciesListParams) -> dict[str, list[str]]:
        if not params.task_ids:
            return {}
        conn = self._connections.connection()
        return workflow_steps(conn).dependencies(params.task_ids)


__all__ = ["DIALECT", "SQLiteWorkflows", "workflow_steps"]
