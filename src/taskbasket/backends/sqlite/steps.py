"""The SQLite store's durable steps and messages: the ``steps`` and ``messages`` columns
of a task's row, each swap one UPDATE (fenced by the lease, or compared with the messages
read), and a woken receiver due now in the same statement."""

from __future__ import annotations

import time

from taskbasket.backends.sqlite.connections import SQLiteConnections
from taskbasket.backends.sqlite.schema import TABLE
from taskbasket.backends.step_params import (
    MessagesSendParams,
    StepsListParams,
    StepsRecordParams,
    StoredSteps,
    stored_steps,
)

LIST = f"SELECT id, state, steps, messages FROM {TABLE} WHERE id=?"
RECORD = (f"UPDATE {TABLE} SET steps=?, messages=CASE WHEN ? THEN ? ELSE messages END "
          "WHERE id=? AND lease_token=? AND state='running' AND (NOT ? OR messages IS ?)")
"""Parameters: steps, swap?, new messages, id, token, swap?, expected messages."""
SEND = (f"UPDATE {TABLE} SET messages=?, run_at=CASE WHEN ? AND state='scheduled' THEN ? "
        "ELSE run_at END WHERE id=? AND messages IS ? "
        "AND state NOT IN ('succeeded','failed','cancelled')")
"""Parameters: new messages, wake?, now, id, expected messages."""


class SQLiteSteps:
    """Mixed into ``SQLiteBackend``."""

    _connections: SQLiteConnections

    def _task_ready(self) -> None:
        raise NotImplementedError

    def steps_list(self, params: StepsListParams) -> StoredSteps | None:
        return stored_steps(self._connections.read(LIST, (params.task_id,)))

    def steps_record(self, params: StepsRecordParams) -> bool:
        lease, swap = params.lease, params.messages
        swapping = swap is not None
        with self._connections.write() as conn:
            cursor = conn.execute(RECORD, (
                params.steps, swapping, swap.new if swap else None, lease.task_id,
                lease.token, swapping, swap.expected if swap else None))
            return cursor.rowcount == 1

    def messages_send(self, params: MessagesSendParams) -> bool:
        swap = params.messages
        with self._connections.write() as conn:
            cursor = conn.execute(SEND, (swap.new, params.wake, time.time(), params.task_id,
                                         swap.expected))
            sent = cursor.rowcount == 1
        if sent and params.wake:
            self._task_ready()
        return sent


__all__ = ["SQLiteSteps"]
