"""The MySQL store's workflow steps (``sql_workflows``) on the session of the change that
causes each, and the operators' retry and cancel, which bring dependents back or cancel
them in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from taskbasket.backends.mysql.session import Session
from taskbasket.backends.mysql.settings import Settings
from taskbasket.backends.mysql.statements import FILTER_DIALECT, NOW, SQL_LIVE
from taskbasket.backends.mysql.values import id_bytes, id_str
from taskbasket.backends.params import Outcome, OutcomeKind, TaskFilter
from taskbasket.backends.sql_filters import filter_where
from taskbasket.backends.sql_workflows import WorkflowDialect, WorkflowSteps
from taskbasket.backends.workflow_params import DependenciesListParams

T = TypeVar("T")

_RETRYABLE = "('failed','cancelled','retrying','scheduled')"
ENDS = (OutcomeKind.SUCCEEDED, OutcomeKind.FAILED)
"""Outcomes that may release or cancel dependents."""


def workflow_steps(session: Session, settings: Settings) -> WorkflowSteps:
    """The workflow steps on ``session`` (in its transaction)."""

    def run(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        session.execute(sql, list(params))
        return list(session.fetchall())

    return WorkflowSteps(WorkflowDialect(
        tasks=settings.tasks_table, edges=settings.dependencies_table, mark="%s", now=NOW,
        id_param=id_bytes, id_value=id_str, share_lock="LOCK IN SHARE MODE",
    ), run)


def finish_workflows(session: Session, settings: Settings, outcomes: Sequence[Outcome],
                     accepted: set[str]) -> bool:
    """Cascade the failures and release the dependents of the successes just recorded
    on ``session``; True if some dependent became queued."""
    ended = [o for o in outcomes if o.kind in ENDS and o.lease.task_id in accepted]
    steps = workflow_steps(session, settings)
    if not ended or not steps.any_dependents([o.lease.task_id for o in ended]):
        return False
    steps.cascade([o.lease.task_id for o in ended if o.kind is OutcomeKind.FAILED])
    return bool(steps.release([o.lease.task_id for o in ended
                               if o.kind is OutcomeKind.SUCCEEDED]))


class MySQLWorkflows:
    """The MySQL backend's ``dependencies_list``, ``tasks_retry`` and ``tasks_cancel``
    (mixed into ``MySQLBackend``)."""

    settings: Settings
    table: str
    _run: Callable[..., Any]
    _notify: Callable[[], None]

    def dependencies_list(self, params: DependenciesListParams) -> dict[str, list[str]]:
        if not params.task_ids:
            return {}
        found: dict[str, list[str]] = self._run(
            lambda session: workflow_steps(session, self.settings).dependencies(
                params.task_ids), transaction=False, idempotent=True)
        return found

    def tasks_retry(self, task_filter: TaskFilter) -> int:
        where, args = filter_where(task_filter, FILTER_DIALECT)

        def work(session: Session) -> int:
            steps = workflow_steps(session, self.settings)
            ids = steps.retryable_ids(where, args, _RETRYABLE) if steps.has_edges() else []
            # IGNORE skips a row whose unique key another live task holds by now
            count = session.execute(
                f"UPDATE IGNORE {self.table} SET state = 'queued', attempts = 0, "
                f"run_at = {NOW}, finished_at = NULL, started_at = NULL, lease_token = NULL, "
                f"lease_expires_at = NULL WHERE state IN {_RETRYABLE} AND {where}", args)
            if ids:
                steps.restore(ids)
            return count

        count: int = self._run(work, transaction=True, idempotent=False)
        if count:
            self._notify()
        return count

    def tasks_cancel(self, task_filter: TaskFilter) -> int:
        where, args = filter_where(task_filter, FILTER_DIALECT)

        def work(session: Session) -> int:
            steps = workflow_steps(session, self.settings)
            ids = steps.retryable_ids(where, args, SQL_LIVE) if steps.has_edges() else []
            count = session.execute(
                f"UPDATE {self.table} SET state = 'cancelled', finished_at = {NOW}, "
                f"lease_token = NULL, lease_expires_at = NULL WHERE state IN {SQL_LIVE} "
                f"AND {where}", args)
            if ids:
                steps.cascade(ids)
            return count

        count: int = self._run(work, transaction=True, idempotent=False)
        return count


__all__ = ["ENDS", "MySQLWorkflows", "finish_workflows", "workflow_steps"]
