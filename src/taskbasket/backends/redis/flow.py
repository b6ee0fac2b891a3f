"""Flow control in the Redis store: queue settings (``queue_update.lua``), paused queues
skipped by every claim (``P:paused``), and the limited claim: ``flow_read.lua`` reads
everything the rule (``backends.admission``) needs in one atomic call, the rule chooses
here, and ``flow_take.lua`` claims the chosen tasks only if no other limited claim ran
meanwhile (the flow version is unchanged); otherwise the claim starts again. Running tasks
are counted from live leases and start records expire: nothing can leak."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from redis.commands.core import Script

from taskbasket.backends.admission import (
    MAX_SEEKS,
    Candidate,
    StartRecord,
    candidate_pool,
    claim_under_limits,
)
from taskbasket.backends.base import ClaimParams, QueueUpdateParams, StoredQueue
from taskbasket.backends.redis.records import text
from taskbasket.backends.redis.scripts import RedisScripts
from taskbasket.backends.redis.times import seconds_us

FLOW_TRIES = 5
"""A limited claim that lost this many races to other limited claims claims nothing now
(the worker claims again at its next poll)."""
PROMOTE_BATCH = 1000


class Conflict(Exception):
    """Another limited claim ran between this claim's read and its take."""


def _rows(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []  # cjson writes an empty list as {}


class RedisFlowReads:
    """The ``FlowReads`` of one limited claim, from one ``flow_read`` reply."""

    def __init__(self, run: Callable[[Script, Sequence[Any]], Any], scripts: RedisScripts,
                 params: ClaimParams, token: str) -> None:
        self.run, self.scripts, self.params, self.token = run, scripts, params, token
        limits = params.limits
        assert limits is not None
        recent = limits.recent[-1] if limits.recent else None
        cursor = "" if recent is None else f"{recent[1]}\t{recent[2] or ''}"
        queues = (["-1"] if params.queues is None
                  else [str(len(set(params.queues))), *dict.fromkeys(params.queues)])
        reply = json.loads(text(run(scripts.flow_read, [
            PROMOTE_BATCH, candidate_pool(params.limit), MAX_SEEKS, cursor, *queues,
            *dict.fromkeys(params.names or ()), "\x1f", *limits.tasks])))
        self.version = reply[0]
        self.now = int(reply[1]) / 1_000_000
        self._running = [(q, n, k, int(c)) for q, n, k, c in _rows(reply[2])]
        self._starts = [(g, int(c)) for g, c in _rows(reply[3])]
        self._head = [Candidate(*row) for row in _rows(reply[4])]
        self._groups = sorted((Candidate(*row) for row in _rows(reply[5])),
                              key=lambda c: (c.name, c.limit_key or ""))
        self.claimed: list[list[Any]] = []

    def running_rows(self) -> Iterable[tuple[str, str, str | None, int]]:
        return self._running

    def start_rows(self) -> Iterable[tuple[str, int]]:
        return self._starts

    def head(self, excluded_queues: Sequence[str], count: int) -> list[Candidate]:
        excluded = set(excluded_queues)
        return [c for c in self._head if c.queue not in excluded][:count]

    def seek(self, name: str, after_key: str | None) -> Candidate | None:
        for candidate in self._groups:  # the keyed groups' heads flow_read found, in order
            if candidate.name == name and (after_key is None
                                           or (candidate.limit_key or "") > after_key):
                return candidate
        return None

    def take(self, chosen: Sequence[Candidate]) -> None:
        self._chosen = [c.id for c in chosen]

    def record_starts(self, records: Sequence[StartRecord]) -> None:
        params = self.params
        starts = [x for r in records
                  for x in (r.group, seconds_us(r.expires - self.now) + round(self.now * 1e6))]
        reply = text(self.run(self.scripts.flow_take, [
            self.version, params.worker_id, seconds_us(params.lease_seconds) or 1, self.token,
            1 if params.count_attempt else 0, len(self._chosen), *self._chosen, *starts]))
        if reply == "conflict":
            raise Conflict()
        self.claimed = json.loads(reply) or []


class RedisFlow:
    """The Redis backend's queue settings and limited claim (mixed into ``RedisBackend``)."""

    prefix: str
    _scripts: RedisScripts
    _client: Any
    _run: Callable[[Script, Sequence[Any]], Any]

    def queues_update(self, params: QueueUpdateParams) -> None:
        pairs: list[Any] = []
        for field, value in params.changes.items():
            if field == "paused":
                value = "1" if value else "0"
            pairs += [field, "" if value is None else str(value)]
        self._run(self._scripts.queue_update, [params.name, *pairs])

    def queues_list(self) -> list[StoredQueue]:
        found = self._client.hgetall(f"{self.prefix}:queues")
        queues = []
        for name, raw in found.items():
            data = json.loads(text(raw))
            queues.append(StoredQueue(text(name), bool(data.get("paused")),
                                      data.get("concurrency"), data.get("rate_limit")))
        return sorted(queues, key=lambda q: q.name)

    def _claim_limited(self, params: ClaimParams, token: str) -> list[list[Any]]:
        """The rows of a claim under ``params.limits``."""
        assert params.limits is not None
        for _ in range(FLOW_TRIES):
            reads = RedisFlowReads(self._run, self._scripts, params, token)
            try:
                if claim_under_limits(reads, params.limits, params.limit, reads.now, params.names):
                    return reads.claimed
                return []
            except Conflict:
                continue
        return []
