"""The schedule promises of ``BackendContract`` (a mixin, apart so each file keeps one
job): an upsert keeps the next slot of an unchanged spec and the pause, a fire is a
compare-and-set that inserts its task in the same step, pause and delete say whether the
schedule was stored."""

from __future__ import annotations

import unittest
from datetime import timedelta
from typing import TYPE_CHECKING

from taskbasket.backends.base import (
    ScheduleDeleteParams,
    ScheduleFireParams,
    ScheduleListParams,
    SchedulePauseParams,
    ScheduleUpsertParams,
    StoredSchedule,
    from_micros,
    to_micros,
)
from taskbasket.testing.conformance.helpers import new_task

if TYPE_CHECKING:
    from datetime import datetime

    from taskbasket.backends.base import Backend


class ScheduleContract:
    backend: Backend

    def _schedules(self) -> Backend:
        if not self.backend.capabilities.schedules:
            raise unittest.SkipTest(
                f"{type(self.backend).__name__} lacks schedules (Capabilities)")
        return self.backend

    def _slot(self, seconds: float = 60.0) -> datetime:
        """A whole second ``seconds`` after the store's now."""
        now = self.backend.now() + timedelta(seconds=seconds)
        return from_micros(to_micros(now) // 1_000_000 * 1_000_000)

    def _stored(self, name: str) -> StoredSchedule:
        rows = self.backend.schedules_list(ScheduleListParams([name]))
        assert len(rows) == 1, f"schedule {name!r}: {rows!r}"
        return rows[0]

    def test_an_upsert_keeps_the_next_slot_of_an_unchanged_spec_and_the_pause(self) -> None:
        backend = self._schedules()
        first, later = self._slot(60), self._slot(120)
        backend.schedules_upsert(ScheduleUpsertParams("s", "job", "spec-a", "opt-a", first))
        assert self._stored("s").next_run_at == first
        assert backend.schedules_set_paused(SchedulePauseParams("s", True)) is True
        backend.schedules_upsert(ScheduleUpsertParams("s", "job2", "spec-a", "opt-b", later))
        stored = self._stored("s")
        assert (stored.next_run_at, stored.task_name, stored.options, stored.paused) == (
            first, "job2", "opt-b", True)
        backend.schedules_upsert(ScheduleUpsertParams("s", "job2", "spec-b", "opt-b", later))
        assert self._stored("s").next_run_at == later, "a changed spec takes the new slot"
        backend.schedules_upsert(ScheduleUpsertParams("a", "job", "spec-a", "opt-a", first))
        assert [r.name for r in backend.schedules_list(ScheduleListParams())] == ["a", "s"]
        assert backend.schedules_list(ScheduleListParams(["nope"])) == []

    def test_a_fire_is_a_compare_and_set_that_inserts_its_task(self) -> None:
        backend = self._schedules()
        slot, following = self._slot(-1), self._slot(59)
        backend.schedules_upsert(ScheduleUpsertParams("s", "job", "spec", "opt", slot))
        task = new_task("job")
        assert backend.schedules_fire(
            ScheduleFireParams("s", slot, following, slot, task=task)) is True
        other = new_task("job")
        assert backend.schedules_fire(
            ScheduleFireParams("s", slot, following, slot, task=other)) is False
        assert backend.tasks_get(task.id) is not None and backend.tasks_get(other.id) is None
        stored = self._stored("s")
        assert (stored.next_run_at, stored.last_run_at, stored.last_task_id, stored.skipped) \
            == (following, slot, task.id, 0)
        beyond = self._slot(119)
        assert backend.schedules_fire(
            ScheduleFireParams("s", following, beyond, following, skipped=True)) is True
        stored = self._stored("s")
        assert (stored.next_run_at, stored.last_task_id, stored.skipped) == (
            beyond, task.id, 1), "a skip moves the slot and counts, inserting nothing"
        backend.schedules_set_paused(SchedulePauseParams("s", True))
        assert backend.schedules_fire(
            ScheduleFireParams("s", beyond, self._slot(179), beyond)) is False
        assert backend.schedules_fire(
            ScheduleFireParams("gone", beyond, self._slot(179), beyond)) is False

    def test_pause_and_delete_say_whether_the_schedule_was_stored(self) -> None:
        backend = self._schedules()
        assert backend.schedules_set_paused(SchedulePauseParams("s", True)) is False
        assert backend.schedules_delete(ScheduleDeleteParams("s")) is False
        backend.schedules_upsert(ScheduleUpsertParams("s", "job", "spec", "opt", self._slot()))
        assert backend.schedules_set_paused(SchedulePauseParams("s", False)) is True
        assert backend.schedules_delete(ScheduleDeleteParams("s")) is True
        assert backend.schedules_list(ScheduleListParams()) == []


__all__ = ["ScheduleContract"]
