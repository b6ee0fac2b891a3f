"""The Redis store's durable steps and messages: the ``steps`` and ``messages`` fields of
a task's hash, each swap one script (``steps_record.lua``, fenced by the lease;
``messages_send.lua``, compared with the messages read, a woken receiver moved due now
and an idle worker of its queue woken)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import redis
from redis.commands.core import Script

from taskbasket.backends.params import stored_state
from taskbasket.backends.redis.errors import translated
from taskbasket.backends.redis.keys import KeyLayout
from taskbasket.backends.redis.records import text
from taskbasket.backends.redis.scripts import RedisScripts
from taskbasket.backends.step_params import (
    MessagesSendParams,
    StepsListParams,
    StepsRecordParams,
    StoredSteps,
)


def _json(values: list[Any]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _or_false(value: str | None) -> str | bool:
    return False if value is None else value


class RedisSteps:
    """Mixed into ``RedisBackend``."""

    keys: KeyLayout
    _client: redis.Redis
    _scripts: RedisScripts

    def _run(self, script: Script, args: Sequence[Any]) -> Any:
        raise NotImplementedError

    @translated
    def steps_list(self, params: StepsListParams) -> StoredSteps | None:
        state, steps, messages = self._client.hmget(
            self.keys.task(params.task_id), ["state", "steps", "messages"])
        if state is None:
            return None
        return StoredSteps(stored_state(params.task_id, text(state)),
                           None if steps is None else text(steps),
                           None if messages is None else text(messages))

    @translated
    def steps_record(self, params: StepsRecordParams) -> bool:
        lease, swap = params.lease, params.messages
        args = [lease.task_id, lease.token, _or_false(params.steps), swap is not None,
                _or_false(swap.expected if swap else None), _or_false(swap.new if swap else None)]
        return bool(self._run(self._scripts.steps_record, [_json(args)]))

    @translated
    def messages_send(self, params: MessagesSendParams) -> bool:
        swap = params.messages
        args = [params.task_id, _or_false(swap.expected), _or_false(swap.new), params.wake]
        return bool(self._run(self._scripts.messages_send, [_json(args)]))


__all__ = ["RedisSteps"]
