"""The MySQL store's workflow steps (``sql_workflows``) on the session of the change that
causes each, and the operators' retry and cancel, which bring dependents back or cancel
them in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from taskbasket.backends.mysql.session import Session
from taskbasket.backends.mysql.settings import Settings
from taskbasket.backends.mysql.statements import FILTER_DIALECT, NOW, SQL_LIVE, retry_update
from taskbasket.backends.mysql.values import id_bytes, id_str
from taskbasket.backends.params import CancelParams, Outcome, OutcomeKind, TaskFilter
from taskbasket.backends.sql_filters import filter_where
from taskbasket.backends.sql_workflows import WorkflowDialect, WorkflowSteps
from taskbasket.backends.workflow_params import DependenciesListParams

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

    def _change(self, task_filter: TaskFilter, states: str, change: str,
                after: Callable[[WorkflowSteps, list[str]], object],
                values: Sequence[Any] = ()) -> int:
        """Run ``change`` (an UPDATE whose SET takes ``values``, then the filter's WHERE
        and its parameters) on the tasks matching ``task_filter`` in ``states``, then
        ``after`` on the ids it changed, in one transaction; how many it changed."""
        where, args = filter_where(task_filter, FILTER_DIALECT)

        def work(session: Session) -> int:
            steps = workflow_steps(session, self.settings)
            ids = steps.retryable_ids(where, args, states) if steps.has_edges() else []
            count = session.execute(f"{change} WHERE state IN {states} AND {where}",
                                    [*values, *args])
            if ids:
                after(steps, ids)
            return count

        count: int = self._run(work, transaction=True, idempotent=False)
        return count

    def tasks_retry(self, task_filter: TaskFilter) -> int:
        count = self._change(task_filter, _RETRYABLE, retry_update(self.table),
                             WorkflowSteps.restore)
        if count:
            self._notify()
        return count

    def tasks_cancel(self, params: CancelParams) -> int:
        """Cancel the live tasks matching the filter, with the reason as their
        ``last_error``; their waiting dependents are cancelled in the same transaction."""
        return self._change(
            params.filter, SQL_LIVE,
            f"UPDATE {self.table} SET state = 'cancelled', finished_at = {NOW}, "
            "last_error = %s, lease_token = NULL, lease_expires_at = NULL",
            WorkflowSteps.cascade, [params.reason])


__all__ = ["ENDS", "MySQLWorkflows", "finish_workflows", "workflow_steps"]
