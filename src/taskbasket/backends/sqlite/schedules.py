"""The SQLite store's schedule methods: rows of ``taskbasket_schedules``, times as whole
microseconds, and a fire that is one ``BEGIN IMMEDIATE`` transaction (the compare-and-set
of ``next_run_at`` and the insert of the slot's task)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from taskbasket.backends.base import (
    NewTask,
    ScheduleDeleteParams,
    ScheduleFireParams,
    ScheduleListParams,
    SchedulePauseParams,
    ScheduleUpsertParams,
    StoredSchedule,
    from_micros,
    to_micros,
)
from taskbasket.backends.sqlite.connections import SQLiteConnections
from taskbasket.backends.sqlite.schema import SCHEDULES
from taskbasket.task import TaskRef

COLUMNS = ("name, task_name, spec, options, paused, next_run_at, last_run_at, last_task_id, "
           "skipped")
UPSERT = (
    f"INSERT INTO {SCHEDULES} (name, task_name, spec, options, next_run_at) "
    "VALUES (?,?,?,?,?) ON CONFLICT (name) DO UPDATE SET task_name = excluded.task_name, "
    "options = excluded.options, next_run_at = CASE WHEN spec = excluded.spec "
    "THEN next_run_at ELSE excluded.next_run_at END, spec = excluded.spec"
)
FIRE = (
    f"UPDATE {SCHEDULES} SET next_run_at = ?, skipped = skipped + ?, "
    "last_run_at = COALESCE(?, last_run_at), last_task_id = COALESCE(?, last_task_id) "
    "WHERE name = ? AND next_run_at = ? AND paused = 0"
)


def stored_schedule(row: Sequence[Any]) -> StoredSchedule:
    return StoredSchedule(
        name=row[0], task_name=row[1], spec=row[2], options=row[3], paused=bool(row[4]),
        next_run_at=from_micros(row[5]),
        last_run_at=None if row[6] is None else from_micros(row[6]),
        last_task_id=row[7], skipped=int(row[8]))


class SQLiteSchedules:
    """Mixed into ``SQLiteBackend``."""

    _connections: SQLiteConnections

    def _insert_rows(self, conn: sqlite3.Connection, tasks: Sequence[NewTask]) -> list[TaskRef]:
        raise NotImplementedError

    def _task_ready(self) -> None:
        raise NotImplementedError

    def schedules_upsert(self, params: ScheduleUpsertParams) -> None:
        with self._connections.write() as conn:
            conn.execute(UPSERT, (params.name, params.task_name, params.spec, params.options,
                                  to_micros(params.next_run_at)))

    def schedules_list(self, params: ScheduleListParams) -> list[StoredSchedule]:
        sql, values = f"SELECT {COLUMNS} FROM {SCHEDULES}", list(params.names or ())
        if params.names is not None:
            if not values:
                return []
            sql += f" WHERE name IN ({','.join('?' * len(values))})"
        return [stored_schedule(row) for row in self._connections.read(sql + " ORDER BY name",
                                                                        values)]

    def schedules_fire(self, params: ScheduleFireParams) -> bool:
        task = params.task
        with self._connections.write() as conn:
            cursor = conn.execute(FIRE, (
                to_micros(params.next_run_at), int(params.skipped),
                None if task is None else to_micros(params.slot),
                None if task is None else task.id,
                params.name, to_micros(params.expected_next_run_at)))
            if cursor.rowcount != 1:
                return False
            if task is not None:
                self._insert_rows(conn, [task])
        if task is not None:
            self._task_ready()
        return True

    def schedules_set_paused(self, params: SchedulePauseParams) -> bool:
        with self._connections.write() as conn:
            return conn.execute(f"UPDATE {SCHEDULES} SET paused = ? WHERE name = ?",
                                (int(params.paused), params.name)).rowcount == 1

    def schedules_delete(self, params: ScheduleDeleteParams) -> bool:
        with self._connections.write() as conn:
            return conn.execute(f"DELETE FROM {SCHEDULES} WHERE name = ?",
                                (params.name,)).rowcount == 1
