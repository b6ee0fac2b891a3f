"""``MySQLBackend``: the Backend operations on MySQL 8 / MariaDB 10.6+, each one a short
READ COMMITTED transaction (or one autocommit statement) on a pooled connection. The
statements' texts are in ``statements``, outcomes in ``outcomes``, new tasks in
``inserts``, the schema in ``schema``."""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from taskbasket.backends.base import (
    BackendBase,
    Capabilities,
    ClaimedTask,
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
    ProgressParams,
    PromoteParams,
    PruneParams,
    RescueKind,
)
from taskbasket.backends.mysql import inserts
from taskbasket.backends.mysql.connection import MAX_STATEMENT_BYTES, Connection, connect
from taskbasket.backends.mysql.flow import MySQLFlow
from taskbasket.backends.mysql.inspection import MySQLInspection
from taskbasket.backends.mysql.listener import PollingListener
from taskbasket.backends.mysql.operators import MySQLOperators
from taskbasket.backends.mysql.outcomes import held, lease_rows, plan_outcomes, progress_sql
from taskbasket.backends.mysql.pool import Pool
from taskbasket.backends.mysql.schedules import MySQLSchedules
from taskbasket.backends.mysql.schema import migrate_schema
from taskbasket.backends.mysql.server_errors import (
    is_conflict,
    is_connection_error,
    unavailable,
)
from taskbasket.backends.mysql.session import Session, run_in_session
from taskbasket.backends.mysql.settings import read_settings
from taskbasket.backends.mysql.statements import (
    NOW,
    claim_select,
    claim_update,
    expired_select,
    extend_update,
    insert_statements,
    rescue_update,
)
from taskbasket.backends.mysql.steps import MySQLSteps
from taskbasket.backends.mysql.values import (
    aware,
    claimed_task,
    decode,
    hex_literal,
    id_str,
    micros,
    quote,
)
from taskbasket.backends.mysql.workers import MySQLWorkers
from taskbasket.backends.mysql.workflows import (
    ENDS,
    MySQLWorkflows,
    finish_workflows,
    workflow_steps,
)
from taskbasket.backends.rows import claimed_tasks, expired_lease, lenient
from taskbasket.errors import BackendUnavailableError
from taskbasket.ids import new_token
from taskbasket.task import FINAL_STATES, TaskRef

log = logging.getLogger("taskbasket.backends.mysql")

T = TypeVar("T")



class MySQLBackend(MySQLSteps, MySQLSchedules, MySQLFlow, MySQLWorkers, MySQLOperators,
                   MySQLInspection, MySQLWorkflows, BackendBase):
    """Tasks in one InnoDB table of a MySQL 8 or MariaDB 10.6+ database.

    ``mysql://user:password@host:3306/database?table_prefix=taskbasket_`` (also
    ``mariadb://`` and ``mysql+pymysql://``); options may be given as keyword arguments
    too. Thread-safe: a pool of PyMySQL connections (``pool_size``, default 10).
    """

    capabilities = Capabilities(
        transactional_enqueue=True, server_clock=True, notifications=False, multi_host=True,
        leader_lock=True, workflows=True,
        created_order=True, flow_control=True,
    )

    def is_transient(self, exc: BaseException) -> bool:
        """A lost connection or an outage, or a deadlock or lock wait still failing after
        the retries here; not an error the server gave about the statement's data."""
        return (isinstance(exc, self.transient_errors) or is_connection_error(exc)
                or is_conflict(exc))

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.settings = read_settings(url, options)
        self.database = self.settings.database
        self.table_prefix = self.settings.table_prefix
        self.host = self.settings.host
        self.port = self.settings.port
        self.unix_socket = self.settings.unix_socket
        self.table = self.settings.tasks_table
        self.versions_table = self.settings.versions_table
        self.leaders_table = self.settings.leaders_table
        self._pool = Pool(self._connect, self.settings.pool_size, self.settings.pool_timeout)
        self._migrated = False
        self._migrate_lock = threading.Lock()
        self._max_statement = MAX_STATEMENT_BYTES
        self._listeners: weakref.WeakSet[PollingListener] = weakref.WeakSet()
        self._listeners_lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"<MySQLBackend {self.settings.where}/{self.database} "
                f"prefix={self.table_prefix!r}>")

    # ------------------------------------------------------------------ connections

    def _unavailable(self, exc: BaseException) -> BackendUnavailableError:
        return unavailable(exc, self.settings)

    def _connect(self) -> Connection:
        conn, self._max_statement = connect(self.settings)
        return conn

    def _run(
        self,
        work: Callable[[Session], T],
        *,
        transaction: bool,
        idempotent: bool,
        migrate: bool = True,
    ) -> T:
        """Run ``work`` on a pooled connection (see ``session.run_in_session``), after
        migrating the schema on first use."""
        if migrate and not self._migrated:
            self.migrate()
        return run_in_session(self._pool, work, transaction=transaction,
                              idempotent=idempotent, unavailable=self._unavailable)

    def _read(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        def work(cur: Session) -> list[tuple[Any, ...]]:
            cur.execute(sql, params)
            return list(cur.fetchall())

        return self._run(work, transaction=False, idempotent=True)

    def _write(self, sql: str, args: Sequence[Any]) -> int:
        def work(cur: Session) -> int:
            return int(cur.execute(sql, args))

        return self._run(work, transaction=False, idempotent=False)

    # ------------------------------------------------------------------ schema

    def migrate(self) -> None:
        """Apply the migrations this database lacks, under a server-wide named lock."""
        with self._migrate_lock:
            if self._migrated:
                return
            self._run(lambda cur: migrate_schema(cur, self.settings),
                      transaction=False, idempotent=True, migrate=False)
            self._migrated = True

    def close(self) -> None:
        self._pool.reset()
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener.close()

    def now(self) -> datetime:
        row = self._read(f"SELECT {NOW}")[0]
        moment: datetime = row[0]
        return moment.replace(tzinfo=UTC)

    # ------------------------------------------------------------------ producers

    def tasks_insert(self, tasks: Sequence[NewTask], connection: Any = None) -> list[TaskRef]:
        if not tasks:
            return []
        if connection is not None:
            return self._insert_on_app_connection(tasks, connection)
        if not self._migrated:
            self.migrate()  # first: it learns the server's packet limit that sizes statements
        statements = insert_statements(self.table, tasks, quote, self._max_statement)
        # One statement in autocommit mode is atomic and costs one round trip; several, or
        # the unique-key lookup (which must see the insert's own locks), need a transaction.
        # Every insert is ON DUPLICATE KEY UPDATE id = id, so running it again after a lost
        # COMMIT reply cannot store a task twice.
        keyed = any(t.unique_key is not None for t in tasks)
        workflow = any(t.depends_on or t.workflow_id for t in tasks)

        def work(session: Session) -> list[TaskRef]:
            refs = inserts.insert_on(session, self.table, tasks, statements, not workflow)
            if workflow:
                workflow_steps(session, self.settings).insert(tasks, refs)
            return refs

        refs = self._run(work, transaction=keyed or workflow or len(statements) > 1,
                         idempotent=not workflow)
        self._notify()
        return refs

    def _insert_on_app_connection(
        self, tasks: Sequence[NewTask], connection: Any
    ) -> list[TaskRef]:
        connection = inserts.check_app_connection(connection)
        if not self._migrated:
            self.migrate()
        inserts.check_charset(connection)
        statements = insert_statements(self.table, tasks, connection.escape,
                                       self._max_statement)
        inserts.check_atomic(connection, len(tasks), len(statements))
        refs = inserts.insert_on_app_connection(
            connection, self.table, self.settings.where, tasks, statements, self.settings)
        self._notify()  # early is harmless: workers find nothing and poll again
        return refs

    # ------------------------------------------------------------------ workers

    def tasks_claim(self, params: ClaimParams) -> list[ClaimedTask]:
        if params.limit <= 0 or (params.names is not None and not params.names) or (
                params.queues is not None and not params.queues):
            return []
        token = new_token()
        added = 1 if params.count_attempt else 0
        select, args = claim_select(self.table, params, self.settings.queues_table)
        selected: list[tuple[Any, ...]] = []

        def work(cur: Session) -> list[tuple[Any, ...]]:
            if params.limits is not None:
                return self._claim_limited(cur, params, token)
            cur.execute(select, args)
            rows = list(cur.fetchall())
            selected[:] = rows
            if rows:
                cur.execute(
                    claim_update(self.table, [r[0] for r in rows], added, params.lease_seconds),
                    (token.encode(), params.worker_id[:255]),
                    commit=True,
                )
            return rows

        try:
            rows = self._run(work, transaction=True, idempotent=False)
        except BackendUnavailableError:
            if not selected:
                raise
            rows = self._claimed_after_all(selected, token)
        added = 0 if params.limits is not None else added  # read after the update
        return claimed_tasks(self, token, [
            (id_str(r[0]), functools.partial(claimed_task, r, token, added)) for r in rows])

    def _claimed_after_all(
        self, selected: Sequence[tuple[Any, ...]], token: str
    ) -> list[tuple[Any, ...]]:
        """The rows a claim took although the reply to its COMMIT was lost.

        Without this, they would stay leased to nobody until the lease ran out. The token
        is new to this claim, so the rows carrying it are exactly the ones it took.
        """
        ids = ",".join(hex_literal(row[0]) for row in selected)
        try:
            taken_rows = self._read(
                f"SELECT id FROM {self.table} WHERE id IN ({ids}) AND state = 'running' "
                "AND lease_token = %s",
                (token.encode(),),
            )
        except BackendUnavailableError:
            log.warning("a claim's COMMIT reply was lost and the store is unreachable: "
                        "its tasks (if it committed) run again once their leases expire")
            raise
        taken = {bytes(raw) for (raw,) in taken_rows}
        log.info("a claim's COMMIT reply was lost; it had taken %d task(s)", len(taken))
        return [row for row in selected if bytes(row[0]) in taken]

    def leases_extend(self, params: LeaseExtendParams) -> set[str]:
        pairs, _ = lease_rows(params.leases)
        if not pairs:
            return set()
        sql = extend_update(self.table, pairs, params.lease_seconds)

        def work(cur: Session) -> set[str]:
            matched = cur.execute(sql)
            if matched == len(pairs):
                return {lease.task_id for lease, _ in pairs}
            return held(cur, self.table, pairs, "('running')")

        return self._run(work, transaction=False, idempotent=True)

    def tasks_finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        pairs, positions = lease_rows(o.lease for o in outcomes)
        if not pairs:
            return [False] * len(outcomes)
        batch = plan_outcomes(self.table, outcomes, pairs, self._max_statement)
        ends = any(o.kind in ENDS for o in outcomes)
        released: list[bool] = []

        def work(session: Session) -> set[str]:
            accepted = batch.record(session)  # then the dependents, in its transaction
            released[:] = [ends and finish_workflows(session, self.settings, outcomes,
                                                     accepted)]
            return accepted

        # a release counts dependencies down: never run twice after a lost COMMIT reply
        accepted = self._run(work, transaction=batch.needs_transaction or ends,
                             idempotent=not ends)
        if any(o.kind is OutcomeKind.RELEASED for o in outcomes) or any(released):
            self._notify()
        return [
            index in positions and outcome.lease.task_id in accepted
            for index, outcome in enumerate(outcomes)
        ]

    def tasks_progress(self, params: ProgressParams) -> bool:
        update = progress_sql(self.table, params)
        return update is not None and self._write(*update) == 1

    # ------------------------------------------------------------------ maintenance

    def leases_expired(self, params: LeasesExpiredParams) -> list[ExpiredLease]:
        rows = self._read(
            "SELECT id, lease_token, name, queue, attempts, max_attempts, worker_id, "
            f"started_at, history FROM {self.table} WHERE state = 'running' "
            f"AND lease_expires_at < {NOW} "
            f"ORDER BY lease_expires_at LIMIT {max(0, int(params.limit))}"
        )
        return [expired_lease(id_str(r[0]), decode(r[1]) or "", r[2], r[3], r[4], r[5],
                              worker_id=r[6], started_at=lenient(aware, r[7]), history=r[8])
                for r in rows]

    def leases_rescue(self, params: LeasesRescueParams) -> list[bool]:
        pairs, positions = lease_rows(r.lease for r in params.rescues)
        if not pairs:
            return [False] * len(params.rescues)
        by_id = {r.lease.task_id: r for r in reversed(params.rescues)}  # the first wins
        select = expired_select(self.table, [raw for _, raw in pairs])

        def work(cur: Session) -> set[str]:
            cur.execute(select)  # locks the rows the update then changes, and only those
            locked = {(bytes(raw), bytes(token or b"")) for raw, token in cur.fetchall()}
            chosen = [(lease, raw) for lease, raw in pairs
                      if (raw, lease.token.encode("utf-8")) in locked]
            if not chosen:
                return set()
            cur.execute(rescue_update(self.table, chosen, by_id))
            failed = [lease.task_id for lease, _ in chosen
                      if by_id[lease.task_id].kind is RescueKind.FAIL]
            steps = workflow_steps(cur, self.settings)
            if failed and steps.any_dependents(failed):
                steps.cascade(failed)
            return {lease.task_id for lease, _ in chosen}

        applied = self._run(work, transaction=True, idempotent=False)
        if any(by_id[i].kind is RescueKind.REQUEUE for i in applied):
            self._notify()
        return [index in positions and rescue.lease.task_id in applied
                for index, rescue in enumerate(params.rescues)]

    def tasks_promote(self, params: PromoteParams) -> int:
        if params.limit <= 0:
            return 0
        # one statement: it walks the due index, and finds nothing in most runs
        promoted = self._run(lambda cur: int(cur.execute(
            f"UPDATE {self.table} SET state = 'queued' WHERE state IN ('scheduled','retrying') "
            f"AND run_at <= {NOW} LIMIT {int(params.limit)}"
        )), transaction=False, idempotent=True)
        if promoted:
            self._notify()
        return promoted

    def tasks_prune(self, params: PruneParams) -> int:
        ages = [(s.value, micros(float(age))) for s, age in params.older_than.items()
                if s in FINAL_STATES]
        if not ages or params.limit <= 0:
            return 0
        condition = " OR ".join(
            f"(state = %s AND finished_at < {NOW} - INTERVAL %s MICROSECOND)" for _ in ages)
        return self._write(
            f"DELETE FROM {self.table} WHERE {condition} LIMIT {int(params.limit)}",
            [x for age in ages for x in age],
        )

    def leader_try(self, params: LeaderParams) -> bool:
        until = f"{NOW} + INTERVAL {micros(params.ttl)} MICROSECOND"

        def work(cur: Session) -> bool:
            if cur.execute(
                f"UPDATE {self.leaders_table} SET holder = %s, expires_at = {until} "
                f"WHERE name = %s AND (holder = %s OR expires_at <= {NOW})",
                (params.holder, params.name, params.holder),
            ):
                return True
            return bool(cur.execute(
                f"INSERT IGNORE INTO {self.leaders_table} (name, holder, expires_at) "
                f"VALUES (%s, %s, {until})", (params.name, params.holder)))

        return self._run(work, transaction=False, idempotent=True)

    def leader_resign(self, params: LeaderParams) -> None:
        self._write(f"DELETE FROM {self.leaders_table} WHERE name = %s AND holder = %s",
                    (params.name, params.holder))

    def listener(self, queues: Sequence[str] | None) -> Listener:
        interval = self.settings.wake_interval
        listener = PollingListener(self._newest_id if interval > 0 else None, interval)
        with self._listeners_lock:
            self._listeners.add(listener)
        return listener

    def _newest_id(self) -> bytes | None:
        rows = self._read(f"SELECT MAX(id) FROM {self.table}")
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    def _notify(self) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener.notify()



__all__ = ["MySQLBackend"]
