"""The Redis store's operator actions on tasks (retry, edit and retry, cancel, delete):
each applied in batches of ids, every batch one atomic script."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis

from taskbasket.backends.base import CancelParams, TaskEditParams, TaskFilter
from taskbasket.backends.redis.errors import translated
from taskbasket.backends.redis.filters import filter_spec
from taskbasket.backends.redis.reading import TaskReader
from taskbasket.backends.redis.scripts import RedisScripts
from taskbasket.backends.redis.times import seconds_us
from taskbasket.task import ALL_STATES, FINAL_STATES, State

OPERATOR_BATCH = 500
"""At most this many task ids go to one operator script call."""

_RETRYABLE = frozenset({State.FAILED, State.CANCELLED, State.RETRYING, State.SCHEDULED})
_NOT_FINAL = frozenset(s for s in ALL_STATES if s not in FINAL_STATES)


class RedisOperators:
    """Mixed into ``RedisBackend``."""

    prefix: str
    _client: redis.Redis
    _scripts: RedisScripts
    _reader: TaskReader
    _resolved: Callable[[TaskFilter], TaskFilter]

    def _run(self, script: Any, args: Any) -> Any:
        raise NotImplementedError

    def _operate_on(
        self, operation: str, task_filter: TaskFilter, allowed: frozenset[State] | None,
        reason: str = "",
    ) -> int:
        """Apply an operator action in batches of ids, each batch one atomic script
        (``reason``: a cancel's, stored as ``last_error``)."""
        task_filter = self._resolved(task_filter)
        spec = filter_spec(task_filter, allowed)
        if spec is None:
            return 0
        finished_before = (
            "" if task_filter.finished_before is None
            else str(seconds_us(task_filter.finished_before))
        )
        head = [operation, finished_before, reason, *spec]
        total = 0
        if task_filter.ids is not None:
            ids = sorted({str(i) for i in task_filter.ids}, reverse=True)
            for start in range(0, len(ids), OPERATOR_BATCH):
                total += int(self._run(
                    self._scripts.operate, [*head, *ids[start:start + OPERATOR_BATCH]]
                ))
            return total
        for _, ids, _ in self._reader.pages(spec, None, OPERATOR_BATCH, with_rows=False):
            total += int(self._run(self._scripts.operate, [*head, *ids]))
        return total

    @translated
    def tasks_retry(self, task_filter: TaskFilter) -> int:
        return self._operate_on("retry", task_filter, _RETRYABLE)

    @translated
    def tasks_edit(self, params: TaskEditParams) -> bool:
        edit = [params.task_id, params.expected_history or False, params.history,
                params.payload or False, params.queue or False,
                False if params.priority is None else params.priority]
        return int(self._run(self._scripts.edit, [json.dumps(edit, ensure_ascii=False)])) == 1

    @translated
    def tasks_cancel(self, params: CancelParams) -> int:
        count = self._operate_on("cancel", params.filter, _NOT_FINAL, params.reason)
        if count:
            pipe = self._client.pipeline(transaction=False)
            pipe.publish(f"{self.prefix}:finished", "1")
            pipe.publish(f"{self.prefix}:cancelled", "1")
            pipe.execute()
        return count

    @translated
    def tasks_delete(self, task_filter: TaskFilter) -> int:
        return self._operate_on("delete", task_filter, None)


__all__ = ["OPERATOR_BATCH", "RedisOperators"]
