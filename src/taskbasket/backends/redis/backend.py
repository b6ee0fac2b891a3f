"""Redis: the multi-host store with the lowest latency, over redis-py and Lua scripts.

Every state change is one Lua script (``scripts/``), so it is atomic on the server; Redis's
``TIME`` is the one clock for leases and schedules. This module is the Backend's methods:
each turns its parameters into one script call (or a few) and the reply into records.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import weakref
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import redis
import redis.exceptions
from redis.backoff import ExponentialBackoff
from redis.commands.core import Script
from redis.retry import Retry

from taskbasket.backends.base import (
    BackendBase,
    Capabilities,
    ClaimedTask,
    ClaimOrder,
    ClaimParams,
    CountByNameParams,
    ExpiredLease,
    LeaderParams,
    LeaseExtendParams,
    LeasesExpiredParams,
    LeasesRescueParams,
    Listener,
    ListParams,
    NewTask,
    Outcome,
    OutcomeKind,
    ProgressParams,
    PromoteParams,
    PruneParams,
    RescueKind,
    StoredTask,
    TaskFilter,
    redact_url,
)
from taskbasket.backends.migrations import newer_schema_error
from taskbasket.backends.redis.connections import KeptConnections
from taskbasket.backends.redis.errors import translated
from taskbasket.backends.redis.filters import filter_spec, matches
from taskbasket.backends.redis.flow import RedisFlow
from taskbasket.backends.redis.inserts import insert_calls, task_refs
from taskbasket.backends.redis.keys import KeyLayout
from taskbasket.backends.redis.listener import LISTEN_SLICE, RedisFinishListener, RedisListener
from taskbasket.backends.redis.operators import OPERATOR_BATCH, RedisOperators
from taskbasket.backends.redis.reading import TaskReader
from taskbasket.backends.redis.records import claimed, decode_hash, expired, read_row, text
from taskbasket.backends.redis.schedules import RedisSchedules
from taskbasket.backends.redis.scripts import RedisScripts
from taskbasket.backends.redis.settings import read_settings
from taskbasket.backends.redis.steps import RedisSteps
from taskbasket.backends.redis.times import EPOCH, moment_us, seconds_us
from taskbasket.backends.redis.workers import RedisWorkers
from taskbasket.backends.redis.workflows import RedisWorkflows, in_workflow
from taskbasket.backends.rows import claimed_tasks, state_counts
from taskbasket.errors import (
    BackendUnavailableError,
    ConfigurationError,
    StoreCorruptedError,
    UnsupportedOperationError,
)
from taskbasket.ids import new_token
from taskbasket.task import ALL_STATES, FINAL_STATES, CorruptTask, State, TaskRef

log = logging.getLogger("taskbasket.backends.redis")

SCHEMA_VERSION = 1
"""The key layout's version, kept in ``P:schema``."""
PROMOTE_BATCH = 1000
PAGE_SIZE = 1000
"""At most this many tasks are read per listing script call, so none blocks Redis long."""



class RedisBackend(RedisSteps, RedisSchedules, RedisFlow, RedisWorkers, RedisOperators,
                   RedisWorkflows, BackendBase):
    """A store in one Redis server (7 or newer) under a key prefix; thread-safe.

    ``redis://[[user]:password@]host[:port][/db][?prefix=NAME&socket_timeout=...]``; the
    query may also hold redis-py's connection options. Transactional enqueue is impossible
    (Redis cannot join the application's SQL transaction).
    """

    capabilities = Capabilities(
        transactional_enqueue=False, server_clock=True, notifications=True, multi_host=True,
        leader_lock=True,
        created_order=True, flow_control=True, workflows=True,
    )
    transient_errors = (BackendUnavailableError, OSError, redis.exceptions.ConnectionError,
                        redis.exceptions.TimeoutError)

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        settings = read_settings(url, options)
        self.prefix, self.where = settings.prefix, settings.where
        self.keys = KeyLayout(settings.prefix)
        self._settings = settings
        self._client = self._new_client()
        self._listeners: weakref.WeakSet[RedisListener] = weakref.WeakSet()
        self._scripts = RedisScripts.register(self._client)
        self._kept = KeptConnections(self._client.connection_pool)  # for scripts
        self._reader = TaskReader(self._client, self.keys,
                                  functools.partial(self._run, self._scripts.page))

    def _new_client(self, *, listener: bool = False) -> redis.Redis:
        """A client with its own connection pool; one retry covers a connection that the
        server closed (restart, CLIENT KILL) since it was last used."""
        options: dict[str, Any] = {
            "socket_timeout": 10.0, "socket_connect_timeout": 10.0,
            **self._settings.client_options,
        }
        if listener:
            options["socket_timeout"] = LISTEN_SLICE + 10.0
        try:
            client = redis.Redis.from_url(
                self._settings.listener_url if listener else self._settings.redis_url,
                retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1,
                            supported_errors=(redis.exceptions.ConnectionError,)),
                decode_responses=False,
                **options,
            )
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"bad Redis URL {redact_url(self.url)!r}: {exc}") from exc
        return client

    # ------------------------------------------------------------------ lifecycle

    @translated
    def migrate(self) -> None:
        """Redis needs no schema; this records the layout version and refuses a newer one."""
        key = self.keys.schema()
        self._client.set(key, SCHEMA_VERSION, nx=True)
        version = int(cast(bytes, self._client.get(key)) or SCHEMA_VERSION)
        if version > SCHEMA_VERSION:
            raise newer_schema_error(
                f"Redis prefix {self.prefix!r} at {self.where}", version, SCHEMA_VERSION)
        self._check_durability()

    def _check_durability(self) -> None:
        """Log a warning if the server would lose tasks on a restart (CONFIG may be denied)."""
        try:
            config = cast(dict[bytes | str, bytes | str], self._client.config_get("appendonly"))
        except redis.exceptions.ResponseError:
            return
        value = next(iter(config.values()), b"yes")
        if text(value).lower() != "yes":
            log.warning(
                "Redis at %s runs without appendonly: every task is lost if the server "
                "restarts. For production set appendonly yes and appendfsync everysec "
                "(or always)", self.where,
            )

    def close(self) -> None:
        for listener in list(self._listeners):
            listener.close()
        with contextlib.suppress(redis.exceptions.RedisError):
            self._kept.close()
            self._client.close()

    @translated
    def now(self) -> datetime:
        seconds, micros = self._client.time()
        return EPOCH + timedelta(seconds=int(seconds), microseconds=int(micros))

    def _run(self, script: Script, args: Sequence[Any]) -> Any:
        """Run one of the store's scripts with the prefix and ``args``, on a kept
        connection (see :class:`KeptConnections`): claims and completions are as hot as
        inserts."""
        return self._kept.evalsha(script, [self.prefix, *args])

    # ------------------------------------------------------------------ producers

    def _call_insert(self, args: list[Any]) -> Any:
        """Run the insert script once (``args`` start with the prefix). A call sent again
        after a dropped connection is harmless: the script skips the ids it has stored."""
        return self._kept.evalsha(self._scripts.insert, args)

    @translated
    def tasks_insert(self, tasks: Sequence[NewTask], connection: Any = None) -> list[TaskRef]:
        if connection is not None:
            raise UnsupportedOperationError(
                "the Redis store cannot enqueue inside your database transaction "
                "(connection=...): Redis cannot join a SQL transaction. Enqueue after the "
                "transaction commits, or keep tasks in PostgreSQL, MySQL or SQLite for "
                "transactional enqueue"
            )
        if not tasks:
            return []
        if in_workflow(tasks):
            return self._insert_workflow(tasks)
        try:
            replies = self._insert_calls(tasks)
        except redis.exceptions.ResponseError as exc:
            if "taskbasket insert: corrupt" not in str(exc):
                raise
            raise StoreCorruptedError(
                f"Redis at {self.where} holds a counter under the prefix {self.prefix!r} that "
                f"taskbasket did not write ({exc}); nothing was inserted. Choose another "
                "prefix with ?prefix=NAME in the URL"
            ) from exc
        return task_refs(tasks, replies)

    def _insert_calls(self, tasks: Sequence[NewTask]) -> list[Any]:
        """Insert the tasks, in one script call or (a batch of more than INSERT_CHUNK)
        several in one MULTI; the replies of the calls, in order."""
        calls = insert_calls(self.prefix, tasks)
        if len(calls) == 1:
            return [self._call_insert(calls[0])]
        # one MULTI: the calls run back to back, and none runs if the connection drops
        pipe = self._client.pipeline(transaction=True)
        for args in calls:
            self._scripts.insert(args=args, client=pipe)
        return list(pipe.execute())

    # ------------------------------------------------------------------ workers

    @translated
    def tasks_claim(self, params: ClaimParams) -> list[ClaimedTask]:
        if params.limit <= 0 or (params.names is not None and not params.names):
            return []
        if params.queues is not None and not params.queues:
            return []
        token = new_token()
        if params.queues is None:
            queues = ["-1"]
        else:
            unique = list(dict.fromkeys(params.queues))
            queues = [str(len(unique)), *unique]
        if params.limits is not None:
            return claimed_tasks(self, token, [
                (r[0], functools.partial(claimed, r, token))
                for r in self._claim_limited(params, token)])
        reply = self._run(self._scripts.claim, [
            params.worker_id, params.limit, seconds_us(params.lease_seconds) or 1, token,
            PROMOTE_BATCH, 1 if params.count_attempt else 0,
            "c" if params.order is ClaimOrder.CREATED else "p", *queues,
            *dict.fromkeys(params.names or ()),
        ])
        data = json.loads(text(reply))
        if isinstance(data, dict):  # corrupt tasks were set aside: failed, not claimed
            for task_id, why in data.get("c") or []:
                log.error("task %s is corrupt in the store and was failed, not run: %s",
                          task_id, why)
            data = data.get("r") or []
        rows: list[list[Any]] = data
        return claimed_tasks(self, token, [
            (r[0], functools.partial(claimed, r, token)) for r in rows])

    @translated
    def leases_extend(self, params: LeaseExtendParams) -> set[str]:
        if not params.leases:
            return set()
        args: list[Any] = [seconds_us(params.lease_seconds) or 1]
        for lease in params.leases:
            args.extend((lease.task_id, lease.token))
        return {text(i) for i in self._run(self._scripts.extend, args)}

    @translated
    def tasks_finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        kinds = {
            OutcomeKind.SUCCEEDED: "s", OutcomeKind.FAILED: "f", OutcomeKind.RETRY: "r",
            OutcomeKind.RELEASED: "x", OutcomeKind.DEFERRED: "z",
        }
        rows: list[list[Any]] = []
        for outcome in outcomes:
            if outcome.retry_at is not None:
                mode, value = "a", moment_us(outcome.retry_at)
            else:
                mode, value = "d", seconds_us(outcome.retry_delay)
            kind = kinds[outcome.kind]
            if outcome.kind is OutcomeKind.SUCCEEDED and outcome.delete_on_success:
                kind = "d"
            rows.append([
                outcome.lease.task_id, outcome.lease.token, kind,
                False if outcome.error is None else outcome.error, mode, value,
                False if outcome.result is None else outcome.result,
                False if outcome.history is None else outcome.history,
                outcome.snoozes_added,
            ])
        payload = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
        return [bool(x) for x in self._run(self._scripts.finish, [payload])]

    # ------------------------------------------------------------------ maintenance

    @translated
    def leases_expired(self, params: LeasesExpiredParams) -> list[ExpiredLease]:
        if params.limit <= 0:
            return []
        rows = self._run(self._scripts.expired, [params.limit])
        return [expired(row) for row in rows]

    @translated
    def leases_rescue(self, params: LeasesRescueParams) -> list[bool]:
        if not params.rescues:
            return []
        args: list[Any] = []
        for rescue in params.rescues:
            delay = seconds_us(rescue.delay) if rescue.kind is RescueKind.REQUEUE else 0
            args.extend((rescue.lease.task_id, rescue.lease.token, rescue.kind.value,
                         rescue.error, delay, rescue.history or ""))
        return [bool(x) for x in self._run(self._scripts.rescue, args)]

    @translated
    def tasks_promote(self, params: PromoteParams) -> int:
        if params.limit <= 0:
            return 0
        return int(self._run(self._scripts.promote, [params.limit]))

    @translated
    def tasks_prune(self, params: PruneParams) -> int:
        args: list[Any] = [max(0, params.limit)]
        for state, age in params.older_than.items():
            if state in FINAL_STATES:
                args.extend((State(state).value, seconds_us(float(age))))
        if len(args) == 1 or params.limit <= 0:
            return 0
        return int(self._run(self._scripts.prune, args))

    @translated
    def leader_try(self, params: LeaderParams) -> bool:
        ttl = max(1, round(params.ttl * 1000))
        return bool(self._run(self._scripts.leader, [params.name, params.holder, ttl]))

    @translated
    def leader_resign(self, params: LeaderParams) -> None:
        self._run(self._scripts.leader, [params.name, params.holder, 0])

    @translated
    def tasks_progress(self, params: ProgressParams) -> bool:
        lease = params.lease
        return bool(self._run(self._scripts.progress,
                              [lease.task_id, lease.token, params.progress]))

    def finish_listener(self) -> Listener:
        return RedisFinishListener(self._new_client(listener=True), f"{self.prefix}:finished")

    def cancel_listener(self) -> Listener:
        return RedisFinishListener(self._new_client(listener=True), f"{self.prefix}:cancelled")

    def listener(self, queues: Sequence[str] | None) -> Listener:
        listener = RedisListener(self._new_client(listener=True), self._client,
                                 self.keys.wake(queues), self.keys.wake_close())
        self._listeners.add(listener)
        return listener

    # ------------------------------------------------------------------ inspection

    @translated
    def tasks_get(self, task_id: str) -> StoredTask | CorruptTask | None:
        row = decode_hash(task_id, self._client.hgetall(self.keys.task(task_id)))
        return None if row is None else read_row(row)

    @translated
    def tasks_list(self, params: ListParams) -> list[StoredTask | CorruptTask]:
        task_filter, limit = self._resolved(params.filter), params.limit
        if limit <= 0:
            return []
        found: list[StoredTask | CorruptTask] = []
        if task_filter.ids is not None:
            ids = sorted({str(i) for i in task_filter.ids}, reverse=True)
            if params.before_id is not None:
                ids = [i for i in ids if i < params.before_id]
            now = self._reader.server_us() if task_filter.finished_before is not None else 0
            for start in range(0, len(ids), 500):
                for row in self._reader.rows(ids[start:start + 500], params.with_payload):
                    if matches(row, task_filter, now):
                        found.append(read_row(row))
                        if len(found) >= limit:
                            return found
            return found
        spec = filter_spec(task_filter)
        if spec is None:
            return []
        size = min(limit, PAGE_SIZE)
        for now, _, rows in self._reader.pages(spec, params.before_id, size, with_rows=True,
                                        with_payload=params.with_payload):
            for row in rows:
                if matches(row, task_filter, now):
                    found.append(read_row(row))
                    if len(found) >= limit:
                        return found
        return found

    @translated
    def tasks_count(self, task_filter: TaskFilter) -> int:
        task_filter = self._resolved(task_filter)
        if task_filter.ids is not None:
            ids = sorted({str(i) for i in task_filter.ids})
            now = self._reader.server_us() if task_filter.finished_before is not None else 0
            total = 0
            for start in range(0, len(ids), 500):
                total += sum(
                    1 for row in self._reader.rows(ids[start:start + 500], with_payload=False)
                    if matches(row, task_filter, now)
                )
            return total
        spec = filter_spec(task_filter)
        if spec is None:
            return 0
        if task_filter.finished_before is None:
            return int(self._run(self._scripts.count, spec))
        if task_filter.queues is None and task_filter.names is None:
            # final tasks by finish time: one ZCOUNT per state
            cutoff = self._reader.server_us() - seconds_us(task_filter.finished_before)
            states = [s for s in ALL_STATES if s in FINAL_STATES and (
                task_filter.states is None or s in set(task_filter.states))]
            pipe = self._client.pipeline(transaction=True)
            for state in states:
                pipe.zcount(self.keys.done(state.value), "-inf", f"({cutoff}")
            return sum(int(n) for n in pipe.execute())
        return sum(
            1 for now, _, rows in self._reader.pages(spec, None, PAGE_SIZE, with_rows=True,
                                              with_payload=False)
            for row in rows if matches(row, task_filter, now)
        )

    @translated
    def tasks_stats(self) -> dict[tuple[str, State], int]:
        counts = cast(dict[bytes, bytes], self._client.hgetall(self.keys.counts()))
        rows = []
        for field, value in counts.items():
            count = int(value)
            if count:
                queue, _, state = text(field).rpartition("\t")
                rows.append((queue, state, count))
        return state_counts(rows)

    @translated
    def tasks_count_by_name(self, params: CountByNameParams) -> dict[str, int]:
        if not params.states:
            return {}
        flat = self._run(self._scripts.count_by_name, [State(s).value for s in params.states])
        return {text(name): int(count) for name, count in zip(flat[::2], flat[1::2],
                                                                  strict=True)}


__all__ = ["OPERATOR_BATCH", "PAGE_SIZE", "PROMOTE_BATCH", "SCHEMA_VERSION", "RedisBackend"]
