"""The MySQL store's schedule methods, on ``<prefix>schedules``: times are UTC
``DATETIME(6)``, and a fire is one transaction, the compare-and-set of ``next_run_at`` and
the insert of the slot's task."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from taskbasket.backends.base import (
    NewTask,
    ScheduleDeleteParams,
    ScheduleFireParams,
    ScheduleListParams,
    SchedulePauseParams,
    ScheduleUpsertParams,
    StoredSchedule,
)
from taskbasket.backends.mysql import inserts
from taskbasket.backends.mysql.access import MySQLAccess
from taskbasket.backends.mysql.session import Session
from taskbasket.backends.mysql.statements import insert_statements
from taskbasket.backends.mysql.values import quote

T = TypeVar("T")
COLUMNS = ("name, task_name, spec, options, paused, next_run_at, last_run_at, last_task_id, "
           "skipped")


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def stored_schedule(row: Sequence[Any]) -> StoredSchedule:
    next_run_at = _aware(row[5])
    assert next_run_at is not None
    return StoredSchedule(
        name=row[0], task_name=row[1], spec=row[2], options=row[3], paused=bool(row[4]),
        next_run_at=next_run_at, last_run_at=_aware(row[6]), last_task_id=row[7],
        skipped=int(row[8]))


class MySQLSchedules(MySQLAccess):
    """Mixed into ``MySQLBackend``."""

    def schedules_upsert(self, params: ScheduleUpsertParams) -> None:
        self._write(
            f"INSERT INTO {self.settings.schedules_table} "
            "(name, task_name, spec, options, next_run_at) VALUES (%s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE task_name = VALUES(task_name), options = VALUES(options), "
            "next_run_at = IF(spec = VALUES(spec), next_run_at, VALUES(next_run_at)), "
            "spec = VALUES(spec)",
            (params.name, params.task_name, params.spec, params.options,
             _naive(params.next_run_at)))

    def schedules_list(self, params: ScheduleListParams) -> list[StoredSchedule]:
        sql = f"SELECT {COLUMNS} FROM {self.settings.schedules_table}"
        values: list[Any] = list(params.names or ())
        if params.names is not None:
            if not values:
                return []
            sql += f" WHERE name IN ({','.join(['%s'] * len(values))})"
        return [stored_schedule(row) for row in self._read(sql + " ORDER BY name", values)]

    def schedules_fire(self, params: ScheduleFireParams) -> bool:
        task = params.task
        statements = ([] if task is None else
                      insert_statements(self.table, [task], quote, self._max_statement))

        def work(cur: Session) -> bool:
            changed = cur.execute(
                f"UPDATE {self.settings.schedules_table} SET next_run_at = %s, "
                "skipped = skipped + %s, last_run_at = COALESCE(%s, last_run_at), "
                "last_task_id = COALESCE(%s, last_task_id) "
                "WHERE name = %s AND next_run_at = %s AND paused = 0",
                (_naive(params.next_run_at), int(params.skipped),
                 None if task is None else _naive(params.slot),
                 None if task is None else task.id, params.name,
                 _naive(params.expected_next_run_at)))
            if int(changed) != 1:
                return False
            if task is not None:
                self._insert(cur, [task], statements)
            return True

        fired = self._run(work, transaction=True, idempotent=True)
        if fired and task is not None:
            self._notify()
        return fired

    def _insert(self, cur: Session, tasks: Sequence[NewTask], statements: list[str]) -> None:
        inserts.insert_on(cur, self.table, tasks, statements)

    def schedules_set_paused(self, params: SchedulePauseParams) -> bool:
        self._write(f"UPDATE {self.settings.schedules_table} SET paused = %s WHERE name = %s",
                    (int(params.paused), params.name))
        return bool(self._read(f"SELECT 1 FROM {self.settings.schedules_table} WHERE name = %s",
                               (params.name,)))

    def schedules_delete(self, params: ScheduleDeleteParams) -> bool:
        return self._write(f"DELETE FROM {self.settings.schedules_table} WHERE name = %s",
                           (params.name,)) == 1
