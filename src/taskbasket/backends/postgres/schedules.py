"""The PostgreSQL store's schedule methods, on ``<schema>.schedules``: a fire is one
transaction, the compare-and-set of ``next_run_at`` and the insert of the slot's task
(whose NOTIFY is sent when it commits)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from taskbasket.backends.base import (
    ScheduleDeleteParams,
    ScheduleFireParams,
    ScheduleListParams,
    SchedulePauseParams,
    ScheduleUpsertParams,
    StoredSchedule,
)
from taskbasket.backends.postgres import inserts
from taskbasket.backends.postgres.connections import Connection
from taskbasket.backends.postgres.statements import Statements

COLUMNS = ("name, task_name, spec, options, paused, next_run_at, last_run_at, last_task_id, "
           "skipped")


def stored_schedule(row: Sequence[Any]) -> StoredSchedule:
    return StoredSchedule(
        name=row[0], task_name=row[1], spec=row[2], options=row[3], paused=bool(row[4]),
        next_run_at=row[5], last_run_at=row[6], last_task_id=row[7], skipped=int(row[8]))


class PostgresSchedules:
    """Mixed into ``PostgresBackend``."""

    statements: Statements
    channel: str

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        raise NotImplementedError
        yield

    def _fetch(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _rowcount(self, query: str, params: Sequence[Any] = ()) -> int:
        raise NotImplementedError

    @property
    def _schedules(self) -> str:
        return f"{self.statements.schema}.schedules"

    def schedules_upsert(self, params: ScheduleUpsertParams) -> None:
        t = self._schedules
        self._rowcount(
            f"INSERT INTO {t} (name, task_name, spec, options, next_run_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
            "task_name = excluded.task_name, options = excluded.options, "
            f"next_run_at = CASE WHEN {t}.spec = excluded.spec THEN {t}.next_run_at "
            "ELSE excluded.next_run_at END, spec = excluded.spec",
            (params.name, params.task_name, params.spec, params.options, params.next_run_at))

    def schedules_list(self, params: ScheduleListParams) -> list[StoredSchedule]:
        sql = f"SELECT {COLUMNS} FROM {self._schedules}"
        values: list[Any] = []
        if params.names is not None:
            sql += " WHERE name = ANY(%s)"
            values.append(list(params.names))
        return [stored_schedule(row) for row in self._fetch(sql + " ORDER BY name", values)]

    def schedules_fire(self, params: ScheduleFireParams) -> bool:
        task = params.task
        with self._connection() as conn, conn.transaction():
            cursor = conn.execute(
                f"UPDATE {self._schedules} SET next_run_at = %s, skipped = skipped + %s, "
                "last_run_at = COALESCE(%s, last_run_at), "
                "last_task_id = COALESCE(%s, last_task_id) "
                "WHERE name = %s AND next_run_at = %s AND NOT paused",
                (params.next_run_at, int(params.skipped),
                 None if task is None else params.slot, None if task is None else task.id,
                 params.name, params.expected_next_run_at))
            if cursor.rowcount != 1:
                return False
            if task is not None:
                inserts.insert(conn, [task], self.statements, self.channel)
        return True

    def schedules_set_paused(self, params: SchedulePauseParams) -> bool:
        return self._rowcount(f"UPDATE {self._schedules} SET paused = %s WHERE name = %s",
                              (params.paused, params.name)) == 1

    def schedules_delete(self, params: ScheduleDeleteParams) -> bool:
        return self._rowcount(f"DELETE FROM {self._schedules} WHERE name = %s",
                              (params.name,)) == 1
