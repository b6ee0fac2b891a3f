"""The PostgreSQL store's ``Backend``: each operation one statement (``statements``) on a
pooled connection, the schema migrated on first use (``schema``), inserts in ``inserts``
and the LISTEN side in ``listener``. Thread-safe; a pool inherited through ``fork`` is
never touched, the child opens its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from taskbasket.backends.admission import claim_under_limits
from taskbasket.backends.base import (
    BackendBase,
    Capabilities,
    ClaimedTask,
    ClaimOrder,
    ClaimParams,
    ExpiredLease,
    LeaderParams,
    LeaseExtendParams,
    LeasesExpiredParams,
    LeasesRescueParams,
    Listener,
    NewTask,
    Outcome,
    OutcomeKind,
    PollingListener,
    ProgressParams,
    PromoteParams,
    PruneParams,
    QueueUpdateParams,
    RescueKind,
    StoredQueue,
)
from taskbasket.backends.postgres import inserts
from taskbasket.backends.postgres.connections import Connection, open_pool, pooled_connection
from taskbasket.backends.postgres.filters import is_uuid
from taskbasket.backends.postgres.flow import PostgresFlowReads, list_queues, update_queue
from taskbasket.backends.postgres.inserts import COPY_THRESHOLD
from taskbasket.backends.postgres.inspection import PostgresInspection
from taskbasket.backends.postgres.listener import PostgresListener
from taskbasket.backends.postgres.operators import PostgresOperators
from taskbasket.backends.postgres.outcomes import finish_on
from taskbasket.backends.postgres.rows import claimed_task
from taskbasket.backends.postgres.schedules import PostgresSchedules
from taskbasket.backends.postgres.schema import migrate_schema
from taskbasket.backends.postgres.settings import read_settings
from taskbasket.backends.postgres.statements import Statements
from taskbasket.backends.postgres.steps import PostgresSteps
from taskbasket.backends.postgres.workers import PostgresWorkers
from taskbasket.backends.postgres.workflows import PostgresWorkflows, workflow_steps
from taskbasket.backends.rows import claimed_tasks, expired_lease
from taskbasket.backends.sql_filters import sql_states
from taskbasket.errors import BackendUnavailableError, ConfigurationError
from taskbasket.ids import new_token
from taskbasket.task import FINAL_STATES, RETRYABLE_STATES, State, TaskRef

_ENDS = (OutcomeKind.SUCCEEDED, OutcomeKind.FAILED)
"""Outcomes that may release or cancel dependents."""
_RETRYABLE = sql_states(RETRYABLE_STATES)
_UNFINISHED = sql_states(set(State) - FINAL_STATES)

log = logging.getLogger("taskbasket.backends.postgres")

_PREPARED_ERRORS = (psycopg.errors.DuplicatePreparedStatement,
                    psycopg.errors.InvalidSqlStatementName)
"""What a server connection shared through a transaction pooler answers to psycopg's
prepared statements (made on one server connection, used on another)."""


def _in_workflow(tasks: Sequence[NewTask]) -> bool:
    return any(task.depends_on or task.workflow_id for task in tasks)


class PostgresBackend(PostgresSteps, PostgresSchedules, PostgresWorkers, PostgresInspection,
                      PostgresWorkflows, PostgresOperators, BackendBase):
    """A store in one schema of a PostgreSQL database; thread-safe, pooled connections.

    URL: ``postgresql://user:password@host:port/db?schema=taskbasket``. Our options
    (``schema``, ``pool_min_size`` (2), ``pool_max_size`` (10), ``pool_timeout`` (10 s, the
    longest an operation waits for a free connection)) may be given in the query string or
    as keyword arguments; every other query parameter (``sslmode``, ``connect_timeout``,
    ``application_name`` ...) goes to libpq.

    Behind a transaction pooler (PgBouncer ``pool_mode = transaction``, a managed
    service's pooler) give ``pooler=transaction``: no statement is prepared on the server,
    none relies on session state, and LISTEN goes to ``listen_url`` (a direct URL,
    percent-encoded), or, without it, workers poll (logged once).
    """

    capabilities = Capabilities(
        transactional_enqueue=True, server_clock=True, notifications=True, multi_host=True,
        leader_lock=True,
        created_order=True, flow_control=True, workflows=True,
    )
    transient_errors = (BackendUnavailableError, OSError, psycopg.OperationalError,
                        psycopg.InterfaceError)

    def is_transient(self, exc: BaseException) -> bool:
        """Connection loss, an outage, deadlocks, lock and pool timeouts, a full disk
        (psycopg's OperationalError) are transient; a program limit the statement hit is
        not, nor is text the server refused (DataError, such as a NUL)."""
        return isinstance(exc, self.transient_errors) and not isinstance(
            exc, psycopg.errors.ProgramLimitExceeded)

    def __init__(self, url: str, **options: Any) -> None:
        settings = read_settings(url, options)
        self.settings = settings
        self.url = url
        self.schema = settings.schema
        self.pool_min_size = settings.pool_min_size
        self.pool_max_size = settings.pool_max_size
        self.pool_timeout = settings.pool_timeout
        self.conninfo = settings.conninfo
        self.connect_kwargs = settings.connect_kwargs
        self.table = settings.table
        self.channel = settings.channel
        self.done_channel = done_channel(settings.channel)
        """The NOTIFY channel of finished tasks, for those waiting for results."""
        self.cancel_channel = done_channel(settings.channel, "cancel")
        """The NOTIFY channel of cancelled tasks, for the workers running them."""
        self.statements = Statements(settings.table, settings.quoted_schema)

        self._lock = threading.Lock()
        self._pool: ConnectionPool[Connection] | None = None
        self._pool_pid = 0
        self._migrated = False
        self._listeners: list[PostgresListener] = []
        self._polling_said = False

    def __repr__(self) -> str:
        return f"<PostgresBackend {self.describe()} schema={self.schema}>"

    def describe(self) -> str:
        """host:port/db (user), for messages; never the password."""
        return self.settings.describe()

    # ------------------------------------------------------------------ connections

    def _get_pool(self) -> ConnectionPool[Connection]:
        pool = self._pool
        if pool is not None and self._pool_pid == os.getpid():
            return pool
        with self._lock:
            if self._pool is not None and self._pool_pid != os.getpid():
                self._pool = None  # inherited through fork: never touch the parent's sockets
            if self._pool is None:
                if not self._migrated:
                    self._migrate_locked()
                self._pool = open_pool(self.settings)
                self._pool_pid = os.getpid()
            return self._pool

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        try:
            with pooled_connection(self._get_pool(), self.settings) as conn:
                yield conn
        except _PREPARED_ERRORS as exc:
            if self.settings.transaction_pooler:
                raise
            raise ConfigurationError(
                f"PostgreSQL at {self.describe()} answered {type(exc).__name__} ({exc}): "
                "the prepared statements of one connection are seen by another, so a "
                "transaction pooler (PgBouncer pool_mode=transaction, a managed service's "
                "pooler) sits in between; add ?pooler=transaction to the URL (and "
                "listen_url= a direct URL for LISTEN)") from exc

    def _fetch(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description is not None else []

    def _rowcount(self, query: str, params: Sequence[Any] = ()) -> int:
        with self._connection() as conn:
            return conn.execute(query, params).rowcount

    # ------------------------------------------------------------------ schema

    def migrate(self) -> None:
        with self._lock:
            if not self._migrated:
                self._migrate_locked()

    def _migrate_locked(self) -> None:
        migrate_schema(self.settings)
        self._migrated = True

    def close(self) -> None:
        with self._lock:
            listeners, self._listeners = self._listeners, []
            pool, self._pool = self._pool, None
        for listener in listeners:
            listener.close()
        if pool is not None and self._pool_pid == os.getpid():
            pool.close(timeout=5.0)

    def now(self) -> datetime:
        value: datetime = self._fetch("SELECT now()")[0][0]
        return value.astimezone(UTC)

    # ------------------------------------------------------------------ producers

    def _ensure_migrated(self) -> None:
        if not self._migrated:
            self.migrate()

    def tasks_insert(self, tasks: Sequence[NewTask], connection: Any = None) -> list[TaskRef]:
        if not tasks:
            return []
        if connection is not None:
            conn = connection  # (a SQLAlchemy object was unwrapped: app_connection.py)
            if isinstance(conn, psycopg.AsyncConnection):
                raise ConfigurationError(
                    "connection= is a psycopg AsyncConnection: enqueue with enqueue_async() "
                    "(tasks_insert_async) to use it, or pass a psycopg.Connection here"
                )
            if not isinstance(conn, psycopg.Connection):
                raise inserts.wrong_connection(connection, "psycopg.Connection")
            self._ensure_migrated()
            # the app's transaction: insert, never commit or roll back
            try:
                return self._insert_on(conn, tasks)
            except inserts.MISSING_SCHEMA as exc:
                raise inserts.elsewhere(exc, self.settings) from exc
        with self._connection() as conn:
            if (len(tasks) >= COPY_THRESHOLD or any(t.unique_key is not None for t in tasks)
                    or _in_workflow(tasks)):
                # several statements (COPY; a second try of a unique key): all or none
                with conn.transaction():
                    return self._insert_on(conn, tasks)
            return inserts.insert(conn, tasks, self.statements, self.channel)

    def _insert_on(self, conn: Connection, tasks: Sequence[NewTask]) -> list[TaskRef]:
        """Insert on ``conn``'s transaction, with the workflow steps of the tasks."""
        refs = inserts.insert(conn, tasks, self.statements, self.channel)
        if _in_workflow(tasks):
            workflow_steps(conn, self.settings).insert(tasks, refs)
        return refs

    async def tasks_insert_async(
        self, tasks: Sequence[NewTask], connection: Any = None
    ) -> list[TaskRef]:
        if not tasks:
            return []
        if connection is None:
            return await asyncio.to_thread(self.tasks_insert, tasks)
        conn = connection
        if isinstance(conn, psycopg.Connection):
            return await asyncio.to_thread(self.tasks_insert, tasks, conn)
        if not isinstance(conn, psycopg.AsyncConnection):
            raise inserts.wrong_connection(connection, "psycopg.AsyncConnection")
        if not self._migrated:
            await asyncio.to_thread(self.migrate)
        if _in_workflow(tasks):
            raise ConfigurationError(
                "after=, chains and groups cannot join an async connection's transaction: "
                "enqueue them without connection=, or on a psycopg.Connection")
        try:
            return await inserts.insert_async(conn, tasks, self.statements, self.channel)
        except inserts.MISSING_SCHEMA as exc:
            raise inserts.elsewhere(exc, self.settings) from exc

    # ------------------------------------------------------------------ workers

    def tasks_claim(self, params: ClaimParams) -> list[ClaimedTask]:
        if params.limit <= 0 or (params.names is not None and not params.names) or (
            params.queues is not None and not params.queues
        ):
            return []
        token = new_token()
        names = None if params.names is None else list(params.names)
        queues = None if params.queues is None else list(params.queues)
        created = params.order is ClaimOrder.CREATED
        statement = self.statements.claim_created if created else self.statements.claim
        if params.limits is None:
            rows = self._fetch(statement, [
                token, float(params.lease_seconds), params.worker_id, names, queues,
                params.limit, 1 if params.count_attempt else 0,
            ])
        else:
            with self._connection() as conn, conn.transaction():
                reads = PostgresFlowReads(conn, self.settings.quoted_schema, params, token)
                claim_under_limits(reads, params.limits, params.limit, reads.now, params.names)
                rows = reads.claimed
        claimed = claimed_tasks(self, token, [
            (r[0], functools.partial(claimed_task, r, token)) for r in rows])
        if created:
            claimed.sort(key=lambda t: t.id)
        else:
            claimed.sort(key=lambda t: (-t.priority, t.run_at, t.id))
        return claimed

    def queues_update(self, params: QueueUpdateParams) -> None:
        with self._connection() as conn:
            update_queue(conn, self.settings.quoted_schema, params)

    def queues_list(self) -> list[StoredQueue]:
        with self._connection() as conn:
            return list_queues(conn, self.settings.quoted_schema)

    def leases_extend(self, params: LeaseExtendParams) -> set[str]:
        leases = sorted(
            (lease for lease in params.leases if is_uuid(lease.task_id)),
            key=lambda lease: lease.task_id,
        )
        if not leases:
            return set()
        rows = self._fetch(self.statements.extend, [
            float(params.lease_seconds), [lease.task_id for lease in leases],
            [lease.token for lease in leases],
        ])
        held = {row[0] for row in rows}
        # answer in the caller's spelling of each id
        return {lease.task_id for lease in leases if str(uuid.UUID(lease.task_id)) in held}

    def tasks_finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        with self._connection() as conn:
            if not any(o.kind in _ENDS for o in outcomes):
                return self._finish_on(conn, outcomes)
            with conn.transaction():  # with the release or cascade of their dependents
                accepted = self._finish_on(conn, outcomes)
                ended = [o for o, ok in zip(outcomes, accepted, strict=True)
                         if ok and o.kind in _ENDS]
                steps = workflow_steps(conn, self.settings)
                if ended and steps.any_dependents([o.lease.task_id for o in ended]):
                    steps.cascade([o.lease.task_id for o in ended
                                   if o.kind is OutcomeKind.FAILED])
                    self._notify_ready(conn, steps.release(
                        [o.lease.task_id for o in ended if o.kind is OutcomeKind.SUCCEEDED]))
            return accepted

    def _finish_on(self, conn: Connection, outcomes: Sequence[Outcome]) -> list[bool]:
        return finish_on(conn, self.statements, outcomes, self.done_channel, self.channel)

    def _notify_ready(self, conn: Connection, task_ids: Sequence[str]) -> None:
        """Wake the workers of the queues of tasks a workflow step made queued."""
        if task_ids:
            conn.execute(f"SELECT count(pg_notify(%s, q)) FROM (SELECT DISTINCT queue AS q "
                         f"FROM {self.table} WHERE id = ANY(%s::uuid[])) d",
                         [self.channel, list(task_ids)])

    # ------------------------------------------------------------------ maintenance

    def leases_expired(self, params: LeasesExpiredParams) -> list[ExpiredLease]:
        rows = self._fetch(self.statements.expired, [max(0, params.limit)])
        return [expired_lease(*row[:6], worker_id=row[6], started_at=row[7], history=row[8])
                for row in rows]

    def leases_rescue(self, params: LeasesRescueParams) -> list[bool]:
        rescues = params.rescues
        order = sorted((i for i, r in enumerate(rescues) if is_uuid(r.lease.task_id)),
                       key=lambda i: rescues[i].lease.task_id)
        applied = [False] * len(rescues)
        if not order:
            return applied
        chosen = [rescues[i] for i in order]
        with self._connection() as conn, conn.transaction():
            rows = conn.execute(self.statements.rescue, [
                order, [r.lease.task_id for r in chosen], [r.lease.token for r in chosen],
                [r.kind.value for r in chosen], [r.error for r in chosen],
                [float(r.delay) if r.kind is RescueKind.REQUEUE else 0.0 for r in chosen],
                [r.history for r in chosen], self.channel,
            ]).fetchall()
            for row in rows:
                applied[row[0]] = True
            failed = [r.lease.task_id for r, ok in zip(rescues, applied, strict=True)
                      if ok and r.kind is RescueKind.FAIL]
            steps = workflow_steps(conn, self.settings)
            if failed and steps.any_dependents(failed):
                steps.cascade(failed)
        return applied

    def tasks_promote(self, params: PromoteParams) -> int:
        if params.limit <= 0:
            return 0
        return int(self._fetch(self.statements.promote, [params.limit, self.channel])[0][0])

    def tasks_prune(self, params: PruneParams) -> int:
        ages = [(s.value, float(age)) for s, age in params.older_than.items()
                if s in FINAL_STATES]
        if not ages or params.limit <= 0:
            return 0
        values = [x for age in ages for x in age]
        return self._rowcount(self.statements.prune(len(ages)),
                              [*values, params.limit, *values])

    def leader_try(self, params: LeaderParams) -> bool:
        rows = self._fetch(self.statements.leader_try,
                           [params.name, params.holder, float(params.ttl)])
        return bool(rows)

    def leader_resign(self, params: LeaderParams) -> None:
        self._rowcount(self.statements.leader_resign, [params.name, params.holder])

    def tasks_progress(self, params: ProgressParams) -> bool:
        lease = params.lease
        if not is_uuid(lease.task_id):
            return False
        with self._connection() as conn:
            cursor = conn.execute(self.statements.progress,
                                  (params.progress, lease.task_id, lease.token))
            return cursor.rowcount == 1

    def finish_listener(self) -> Listener:
        return self.listener(None, channel=self.done_channel)

    def cancel_listener(self) -> Listener:
        return self.listener(None, channel=self.cancel_channel)

    def listener(self, queues: Sequence[str] | None, channel: str | None = None) -> Listener:
        if not self.settings.can_listen:
            self._say_polling()
            return PollingListener()
        listener = PostgresListener(self.settings, queues, channel)
        with self._lock:
            self._listeners = [item for item in self._listeners if not item.closed]
            self._listeners.append(listener)
        return listener

    def _say_polling(self) -> None:
        """Warn, once per store, that LISTEN cannot pass the transaction pooler."""
        with self._lock:
            said, self._polling_said = self._polling_said, True
        if not said:
            log.warning(
                "PostgreSQL store %s is behind a transaction pooler (pooler=transaction) "
                "and has no listen_url: LISTEN cannot pass the pooler, so workers poll "
                "(a new task waits up to the poll interval) and result waiters re-read; "
                "add listen_url=<a direct postgresql:// URL, percent-encoded> to the URL "
                "to be woken at once", self.describe())


__all__ = ["PostgresBackend"]


def done_channel(channel: str, kind: str = "done") -> str:
    """The channel of finished (``kind`` "done") or cancelled ("cancel") tasks beside the
    ready channel ``channel`` (at most 63 bytes)."""
    name = f"{channel}.{kind}"
    if len(name.encode()) <= 63:
        return name
    import hashlib

    return f"taskbasket.{kind}.{hashlib.sha1(channel.encode()).hexdigest()[:20]}"
