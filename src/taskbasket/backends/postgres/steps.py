"""The PostgreSQL store's durable steps and messages: the ``steps`` and ``messages``
columns of a task's row, each swap one UPDATE (fenced by the lease, or compared with the
messages read); a woken receiver is due now and its queue notified in the same
statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskbasket.backends.postgres.filters import is_uuid
from taskbasket.backends.postgres.statements import Statements
from taskbasket.backends.step_params import (
    MessagesSendParams,
    StepsListParams,
    StepsRecordParams,
    StoredSteps,
    stored_steps,
)


class PostgresSteps:
    """Mixed into ``PostgresBackend``."""

    statements: Statements
    channel: str

    def _fetch(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _rowcount(self, query: str, params: Sequence[Any] = ()) -> int:
        raise NotImplementedError

    def steps_list(self, params: StepsListParams) -> StoredSteps | None:
        if not is_uuid(params.task_id):
            return None
        return stored_steps(self._fetch(
            f"SELECT id::text, state, steps, messages FROM {self.statements.table} "
            "WHERE id = %s::uuid", [str(params.task_id)]))

    def steps_record(self, params: StepsRecordParams) -> bool:
        lease, swap = params.lease, params.messages
        if not is_uuid(lease.task_id):
            return False
        swapping = swap is not None
        return self._rowcount(
            f"UPDATE {self.statements.table} SET steps = %s, messages = CASE WHEN %s THEN "
            "%s ELSE messages END WHERE id = %s::uuid AND lease_token = %s AND "
            "state = 'running' AND (NOT %s OR messages IS NOT DISTINCT FROM %s)",
            [params.steps, swapping, swap.new if swap else None, str(lease.task_id),
             lease.token, swapping, swap.expected if swap else None]) == 1

    def messages_send(self, params: MessagesSendParams) -> bool:
        swap = params.messages
        if not is_uuid(params.task_id):
            return False
        rows = self._fetch(
            f"WITH changed AS (UPDATE {self.statements.table} SET messages = %s, "
            "run_at = CASE WHEN %s AND state = 'scheduled' THEN now() ELSE run_at END "
            "WHERE id = %s::uuid AND messages IS NOT DISTINCT FROM %s "
            "AND state NOT IN ('succeeded', 'failed', 'cancelled') "
            "RETURNING queue, (%s AND state = 'scheduled') AS woke) "
            "SELECT count(*), (SELECT count(pg_notify(%s, queue)) FROM changed WHERE woke) "
            "FROM changed",
            [swap.new, params.wake, str(params.task_id), swap.expected, params.wake,
             self.channel])
        return int(rows[0][0]) == 1


__all__ = ["PostgresSteps"]
