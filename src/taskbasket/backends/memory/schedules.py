"""The schedule methods of the memory store, each atomic under the store's one lock."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskbasket.backends.base import (
    NewTask,
    ScheduleDeleteParams,
    ScheduleFireParams,
    ScheduleListParams,
    SchedulePauseParams,
    ScheduleUpsertParams,
    StoredSchedule,
)
from taskbasket.backends.memory.records import check_new_tasks
from taskbasket.task import TaskRef

if TYPE_CHECKING:
    from taskbasket.backends.memory.store import MemoryStore


class MemorySchedules:
    """Schedules kept in ``store.schedules`` as StoredSchedule records."""

    store: MemoryStore

    def _insert_held(self, tasks: Sequence[NewTask]) -> list[TaskRef]:
        raise NotImplementedError

    def schedules_upsert(self, params: ScheduleUpsertParams) -> None:
        with self.store.condition:
            schedules = self.store.schedules
            old: StoredSchedule | None = schedules.get(params.name)
            if old is None:
                schedules[params.name] = StoredSchedule(
                    params.name, params.task_name, params.spec, params.options, False,
                    params.next_run_at, None, None, 0)
                return
            next_run_at = old.next_run_at if old.spec == params.spec else params.next_run_at
            schedules[params.name] = dataclasses.replace(
                old, task_name=params.task_name, spec=params.spec, options=params.options,
                next_run_at=next_run_at)

    def schedules_list(self, params: ScheduleListParams) -> list[StoredSchedule]:
        with self.store.condition:
            rows = list(self.store.schedules.values())
        if params.names is not None:
            wanted = set(params.names)
            rows = [row for row in rows if row.name in wanted]
        return sorted(rows, key=lambda row: row.name)

    def schedules_fire(self, params: ScheduleFireParams) -> bool:
        if params.task is not None:
            check_new_tasks([params.task])
        with self.store.condition:
            old: StoredSchedule | None = self.store.schedules.get(params.name)
            if old is None or old.paused or old.next_run_at != params.expected_next_run_at:
                return False
            changed = dataclasses.replace(old, next_run_at=params.next_run_at,
                                          skipped=old.skipped + int(params.skipped))
            if params.task is not None:
                self._insert_held([params.task])
                changed = dataclasses.replace(changed, last_run_at=params.slot,
                                              last_task_id=params.task.id)
            self.store.schedules[params.name] = changed
            return True

    def schedules_set_paused(self, params: SchedulePauseParams) -> bool:
        with self.store.condition:
            old: StoredSchedule | None = self.store.schedules.get(params.name)
            if old is None:
                return False
            self.store.schedules[params.name] = dataclasses.replace(old, paused=params.paused)
            return True

    def schedules_delete(self, params: ScheduleDeleteParams) -> bool:
        with self.store.condition:
            return self.store.schedules.pop(params.name, None) is not None
