"""The Redis store's schedule methods: a hash ``P:schedule:<name>`` per schedule (times in
integer microseconds) and the set ``P:schedules`` of names; each write is one Lua script,
and a fire is one script too, the compare-and-set of ``next_run_at`` and the insert of the
slot's task (``scripts/schedule_fire.lua`` then ``insert.lua``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.commands.core import Script

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
from taskbasket.backends.redis.errors import translated
from taskbasket.backends.redis.inserts import insert_args
from taskbasket.backends.redis.records import text
from taskbasket.backends.redis.scripts import RedisScripts

FIELDS = ("task_name", "spec", "options", "paused", "next_run_at", "last_run_at",
          "last_task_id", "skipped")


def stored_schedule(name: str, values: Sequence[Any]) -> StoredSchedule:
    row = [None if value is None else text(value) for value in values]
    return StoredSchedule(
        name=name, task_name=row[0] or "", spec=row[1] or "{}", options=row[2] or "{}",
        paused=row[3] == "1", next_run_at=from_micros(int(row[4] or 0)),
        last_run_at=None if not row[5] else from_micros(int(row[5])),
        last_task_id=row[6] or None, skipped=int(row[7] or 0))


class RedisSchedules:
    """Mixed into ``RedisBackend``."""

    prefix: str
    where: str
    _client: redis.Redis
    _scripts: RedisScripts

    def _run(self, script: Script, args: Sequence[Any]) -> Any:
        raise NotImplementedError

    @translated
    def schedules_upsert(self, params: ScheduleUpsertParams) -> None:
        self._run(self._scripts.schedule_upsert, [
            params.name, params.task_name, params.spec, params.options,
            to_micros(params.next_run_at)])

    @translated
    def schedules_list(self, params: ScheduleListParams) -> list[StoredSchedule]:
        if params.names is None:
            names = sorted(text(n) for n in self._client.smembers(f"{self.prefix}:schedules"))
        else:
            names = sorted(set(params.names))
        pipe = self._client.pipeline(transaction=False)
        for name in names:
            pipe.hmget(f"{self.prefix}:schedule:{name}", list(FIELDS))
        return [stored_schedule(name, values)
                for name, values in zip(names, pipe.execute(), strict=True)
                if values[1] is not None]

    @translated
    def schedules_fire(self, params: ScheduleFireParams) -> bool:
        task = params.task
        head = [params.name, to_micros(params.expected_next_run_at),
                to_micros(params.next_run_at), to_micros(params.slot),
                "" if task is None else task.id, int(params.skipped)]
        tail = [] if task is None else insert_args(self.prefix, [task], ())[1:]
        reply = self._run(self._scripts.schedule_fire, [*head, *tail])
        return isinstance(reply, list) or reply == 1

    @translated
    def schedules_set_paused(self, params: SchedulePauseParams) -> bool:
        what = "pause" if params.paused else "resume"
        return bool(self._run(self._scripts.schedule_set, [params.name, what]))

    @translated
    def schedules_delete(self, params: ScheduleDeleteParams) -> bool:
        return bool(self._run(self._scripts.schedule_set, [params.name, "delete"]))
