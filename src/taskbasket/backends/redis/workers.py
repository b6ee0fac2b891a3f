"""The Redis store's worker registry: the hash ``P:workers`` (id -> info), the hash
``P:workers:started`` (id -> microseconds) and the sorted set ``P:workers:seen`` (id
scored by last_seen_at, microseconds); times by the server's ``TIME``, each write one Lua
script (``scripts/workers_*.lua``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.commands.core import Script

from taskbasket.backends.base import (
    StoredWorker,
    WorkersBeatParams,
    WorkersListParams,
    WorkersRemoveParams,
    from_micros,
    to_micros,
)
from taskbasket.backends.redis.errors import translated
from taskbasket.backends.redis.records import text
from taskbasket.backends.redis.scripts import RedisScripts


class RedisWorkers:
    """Mixed into ``RedisBackend``."""

    prefix: str
    _client: redis.Redis
    _scripts: RedisScripts

    def _run(self, script: Script, args: Sequence[Any]) -> Any:
        raise NotImplementedError

    @translated
    def workers_beat(self, params: WorkersBeatParams) -> None:
        self._run(self._scripts.workers_beat, [params.id, params.info])

    @translated
    def workers_list(self, params: WorkersListParams) -> list[StoredWorker]:
        pipe = self._client.pipeline(transaction=True)
        pipe.zrange(f"{self.prefix}:workers:seen", 0, -1, withscores=True)
        pipe.hgetall(f"{self.prefix}:workers")
        pipe.hgetall(f"{self.prefix}:workers:started")
        seen, infos, started = pipe.execute()
        infos = {text(k): text(v) for k, v in infos.items()}
        started = {text(k): int(v) for k, v in started.items()}
        rows = [(text(worker_id), int(score)) for worker_id, score in seen]
        return sorted((StoredWorker(worker_id, infos[worker_id],
                                    from_micros(started.get(worker_id, last_seen)),
                                    from_micros(last_seen))
                       for worker_id, last_seen in rows if worker_id in infos),
                      key=lambda row: row.id)

    @translated
    def workers_remove(self, params: WorkersRemoveParams) -> int:
        before = "" if params.unseen_before is None else to_micros(params.unseen_before)
        return int(self._run(self._scripts.workers_remove, [before, *params.ids]))
