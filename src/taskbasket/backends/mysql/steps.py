"""The MySQL store's durable steps and messages: the ``steps`` and ``messages`` columns
of a task's row, each swap one UPDATE (fenced by the lease, or compared with the
messages read with ``<=>``), a woken receiver due now in the same statement."""

from __future__ import annotations

from typing import Any

from taskbasket.backends.mysql.access import MySQLAccess
from taskbasket.backends.mysql.statements import NOW, SQL_LIVE
from taskbasket.backends.mysql.values import decode, hex_literal, id_bytes
from taskbasket.backends.step_params import (
    MessagesSendParams,
    StepsListParams,
    StepsRecordParams,
    StoredSteps,
    stored_steps,
)


def _text(value: Any) -> str | None:
    return decode(value) if isinstance(value, bytes | bytearray) else value


class MySQLSteps(MySQLAccess):
    """Mixed into ``MySQLBackend``."""

    def steps_list(self, params: StepsListParams) -> StoredSteps | None:
        raw = id_bytes(params.task_id)
        if raw is None:
            return None
        rows = self._read(f"SELECT state, steps, messages FROM {self.table} "
                          f"WHERE id = {hex_literal(raw)}")
        return stored_steps([(params.task_id, *(_text(value) for value in row))
                             for row in rows])

    def steps_record(self, params: StepsRecordParams) -> bool:
        lease, swap = params.lease, params.messages
        raw = id_bytes(lease.task_id)
        if raw is None:
            return False
        token = hex_literal(lease.token.encode("utf-8"))
        if swap is None:
            return self._write(
                f"UPDATE {self.table} SET steps = %s WHERE id = {hex_literal(raw)} AND "
                f"lease_token = {token} AND state = 'running'", [params.steps]) == 1
        return self._write(
            f"UPDATE {self.table} SET steps = %s, messages = %s WHERE id = {hex_literal(raw)} "
            f"AND lease_token = {token} AND state = 'running' AND messages <=> %s",
            [params.steps, swap.new, swap.expected]) == 1

    def messages_send(self, params: MessagesSendParams) -> bool:
        swap = params.messages
        raw = id_bytes(params.task_id)
        if raw is None:
            return False
        wake = 1 if params.wake else 0
        sent = self._write(
            f"UPDATE {self.table} SET run_at = CASE WHEN {wake} = 1 AND state = 'scheduled' "
            f"THEN {NOW} ELSE run_at END, messages = %s WHERE id = {hex_literal(raw)} AND "
            f"messages <=> %s AND state IN {SQL_LIVE}", [swap.new, swap.expected]) == 1
        if sent and params.wake:
            self._notify()
        return sent


__all__ = ["MySQLSteps"]
