"""The SQLite store's Backend methods: each runs its statements (``statements.py``) on this
thread's connection (``connections.py``), writes in one short ``BEGIN IMMEDIATE``
transaction, and pokes the wake-up directory when a task becomes ready."""

from __future__ import annotations

import functools
import os
import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from taskbasket.backends.admission import claim_under_limits
from taskbasket.backends.base import (
    BackendBase,
    CancelParams,
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
    PollingListener,
    ProgressParams,
    PromoteParams,
    PruneParams,
    QueueUpdateParams,
    RescueKind,
    StoredQueue,
    StoredTask,
    TaskEditParams,
    TaskFilter,
)
from taskbasket.backends.rows import claimed_tasks, expired_lease, lenient, state_counts
from taskbasket.backends.sql_filters import filter_where
from taskbasket.backends.sqlite import statements
from taskbasket.backends.sqlite.connections import SQLiteConnections
from taskbasket.backends.sqlite.flow import (
    LIST_QUEUES,
    SqliteFlowReads,
    stored_queue,
    update_queue,
)
from taskbasket.backends.sqlite.rows import claimed_task, read_row, to_datetime
from taskbasket.backends.sqlite.schedules import SQLiteSchedules
from taskbasket.backends.sqlite.schema import TABLE, migrate_file
from taskbasket.backends.sqlite.settings import read_settings
from taskbasket.backends.sqlite.statements import FILTERS
from taskbasket.backends.sqlite.steps import SQLiteSteps
from taskbasket.backends.sqlite.workers import SQLiteWorkers
from taskbasket.backends.sqlite.workflows import SQLiteWorkflows, workflow_steps
from taskbasket.backends.wakeup import WakeupDirectory
from taskbasket.errors import BackendUnavailableError, ConfigurationError
from taskbasket.ids import new_token
from taskbasket.task import FINAL_STATES, CorruptTask, State, TaskRef


class SQLiteBackend(SQLiteSteps, SQLiteSchedules, SQLiteWorkers, SQLiteWorkflows, BackendBase):
    """A store in one SQLite file; one connection per thread."""

    capabilities = Capabilities(
        transactional_enqueue=True, server_clock=False, notifications=True, multi_host=False,
        leader_lock=True,
        created_order=True, flow_control=True, workflows=True,
    )
    transient_errors = (BackendUnavailableError, OSError, sqlite3.OperationalError)
    """Busy past the timeout, disk full or read-only: the file may accept the call later."""

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        settings = read_settings(url, options)
        self.path = settings.path
        self._connections = SQLiteConnections(
            settings.path, synchronous=settings.synchronous,
            busy_timeout=settings.busy_timeout, on_open=self._migrate_once,
        )
        self._migrated = False
        self._wakeups = WakeupDirectory(self.path + ".wake")
        self._finishes = WakeupDirectory(self.path + ".done")
        """Wakes those waiting for a result (``finish_listener``) when tasks became final."""
        self._cancels = WakeupDirectory(self.path + ".cancel")
        """Wakes the workers (``cancel_listener``) when tasks were cancelled."""

    def _migrate_once(self) -> None:
        if not self._migrated:
            self.migrate()

    def migrate(self) -> None:
        conn = self._connections.connection(prepare=False)
        try:
            migrate_file(conn, self.path)
        except sqlite3.DatabaseError as exc:
            raise self._connections.explain(exc) from exc
        self._migrated = True

    def close(self) -> None:
        self._connections.close()
        self._wakeups.close()
        self._finishes.close()
        self._cancels.close()

    def now(self) -> datetime:
        return datetime.now(UTC)

    # ------------------------------------------------------------------ producers

    def _insert_rows(self, conn: sqlite3.Connection, tasks: Sequence[NewTask]) -> list[TaskRef]:
        now = time.time()
        refs: list[TaskRef] = []
        plain: list[tuple[Any, ...]] = []
        for task in tasks:
            run_at = task.run_at.timestamp() if task.run_at is not None else now + task.delay
            state = State.QUEUED if run_at <= now else State.SCHEDULED
            row = (
                task.id, task.name, task.queue, state.value, task.payload, task.priority,
                task.max_attempts, task.timeout, task.unique_key, now, run_at,
                task.limit_key or "",
            )
            if task.unique_key is None:
                plain.append(row)
                refs.append(TaskRef(task.id, True))
                continue
            if plain:
                conn.executemany(statements.INSERT, plain)
                plain.clear()
            cursor = conn.execute(statements.INSERT_UNIQUE, row)
            if cursor.rowcount == 1:
                refs.append(TaskRef(task.id, True))
            else:
                existing = conn.execute(
                    statements.UNFINISHED_WITH_KEY, (task.unique_key,)).fetchone()
                refs.append(TaskRef(existing[0], False))
        if plain:
            conn.executemany(statements.INSERT, plain)
        if any(task.depends_on or task.workflow_id for task in tasks):
            workflow_steps(conn).insert(tasks, refs)
        return refs

    def tasks_insert(self, tasks: Sequence[NewTask], connection: Any = None) -> list[TaskRef]:
        if not tasks:
            return []
        if connection is not None:
            self._check_connection(connection)
            try:
                return self._insert_rows(connection, tasks)
            finally:
                self._wakeups.notify()  # early is harmless: workers re-check and poll
        with self._connections.write() as conn:
            refs = self._insert_rows(conn, tasks)
        self._wakeups.notify()
        return refs

    def _task_ready(self) -> None:
        self._wakeups.notify()

    def _check_connection(self, connection: Any) -> None:
        if not isinstance(connection, sqlite3.Connection):
            raise ConfigurationError(
                f"connection= must be a sqlite3.Connection for the SQLite store (or a "
                f"SQLAlchemy Session/Connection on sqlite+pysqlite), got "
                f"{type(connection).__module__}.{type(connection).__name__}"
            )
        rows = connection.execute("PRAGMA database_list").fetchall()
        files = {os.path.realpath(row[2]) for row in rows if row[1] == "main" and row[2]}
        if os.path.realpath(self.path) not in files:
            raise ConfigurationError(
                f"connection= is open on {sorted(files) or ['an in-memory database']}, not on "
                f"this store's file {self.path}; open the connection on the store's file "
                "(tasks must live in the database whose transaction they join)"
            )
        if not connection.execute(statements.HAS_TABLE, (TABLE,)).fetchone():
            self.migrate()

    # ------------------------------------------------------------------ workers

    def tasks_claim(self, params: ClaimParams) -> list[ClaimedTask]:
        if params.limit <= 0 or (params.names is not None and not params.names):
            return []
        now = time.time()
        token = new_token()
        sql_params = statements.claim_parameters(
            token, now + params.lease_seconds, now, params.worker_id, params.names,
            params.queues, params.limit)
        statement = statements.claim_sql(None if params.names is None else len(params.names),
                                         None if params.queues is None else len(params.queues),
                                         params.count_attempt, params.order)
        with self._connections.write() as conn:
            if params.limits is None:
                rows = conn.execute(statement, sql_params).fetchall()
            else:
                reads = SqliteFlowReads(conn, params, now, token)
                claim_under_limits(reads, params.limits, params.limit, now, params.names)
                rows = reads.claimed
        claimed = claimed_tasks(self, token, [
            (r[0], functools.partial(claimed_task, r, token)) for r in rows])
        if params.order is ClaimOrder.CREATED:
            claimed.sort(key=lambda t: t.id)
        else:
            claimed.sort(key=lambda t: (-t.priority, t.run_at, t.id))
        return claimed

    def queues_update(self, params: QueueUpdateParams) -> None:
        with self._connections.write() as conn:
            update_queue(conn, params)

    def queues_list(self) -> list[StoredQueue]:
        return [stored_queue(row) for row in self._connections.read(LIST_QUEUES)]

    def leases_extend(self, params: LeaseExtendParams) -> set[str]:
        if not params.leases:
            return set()
        expires = time.time() + params.lease_seconds
        held: set[str] = set()
        with self._connections.write() as conn:
            for lease in params.leases:
                cursor = conn.execute(
                    statements.EXTEND_LEASE, (expires, lease.task_id, lease.token))
                if cursor.rowcount:
                    held.add(lease.task_id)
        return held

    def tasks_finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        now = time.time()
        accepted: list[bool] = []
        released = False
        with self._connections.write() as conn:
            for outcome in outcomes:
                key = (outcome.lease.task_id, outcome.lease.token)
                if outcome.kind is OutcomeKind.SUCCEEDED and outcome.delete_on_success:
                    cursor = conn.execute(statements.FINISH_DELETE, key)
                elif outcome.kind is OutcomeKind.SUCCEEDED:
                    cursor = conn.execute(statements.FINISH_SUCCEEDED,
                                          (now, outcome.result, outcome.history, *key))
                elif outcome.kind is OutcomeKind.FAILED:
                    cursor = conn.execute(statements.FINISH_FAILED,
                                          (now, outcome.error, outcome.history, *key))
                elif outcome.kind in (OutcomeKind.RETRY, OutcomeKind.DEFERRED):
                    released = released or outcome.kind is OutcomeKind.DEFERRED
                    run_at = (
                        outcome.retry_at.timestamp() if outcome.retry_at is not None
                        else now + outcome.retry_delay
                    )
                    cursor = conn.execute(*(
                        (statements.FINISH_RETRY, (run_at, outcome.error, outcome.history, *key))
                        if outcome.kind is OutcomeKind.RETRY else
                        (statements.FINISH_DEFER,
                         (run_at, outcome.snoozes_added, outcome.history, *key))))
                else:
                    released = True
                    cursor = conn.execute(statements.FINISH_RELEASE, key)
                accepted.append(cursor.rowcount == 1)
            released = self._finish_workflows(conn, outcomes, accepted) or released
        if released:
            self._wakeups.notify()
        if any(o.kind in (OutcomeKind.SUCCEEDED, OutcomeKind.FAILED) for o in outcomes):
            self._finishes.notify()
        return accepted

    @staticmethod
    def _finish_workflows(conn: sqlite3.Connection, outcomes: Sequence[Outcome],
                          accepted: Sequence[bool]) -> bool:
        """Release the dependents of the successes, cascade the failures; True if some
        dependent became queued."""
        ended = [(o.kind, o.lease.task_id) for o, ok in zip(outcomes, accepted, strict=True)
                 if ok and o.kind in (OutcomeKind.SUCCEEDED, OutcomeKind.FAILED)]
        if not ended:
            return False
        steps = workflow_steps(conn)
        if not steps.has_edges():
            return False
        steps.cascade([task_id for kind, task_id in ended if kind is OutcomeKind.FAILED])
        return bool(steps.release(
            [task_id for kind, task_id in ended if kind is OutcomeKind.SUCCEEDED]))

    def tasks_progress(self, params: ProgressParams) -> bool:
        lease = params.lease
        with self._connections.write() as conn:
            cursor = conn.execute(
                statements.PROGRESS, (params.progress, lease.task_id, lease.token))
            return cursor.rowcount == 1

    def finish_listener(self) -> Listener:
        listener = self._finishes.listener()
        return listener if listener is not None else PollingListener()

    def cancel_listener(self) -> Listener:
        listener = self._cancels.listener()
        return listener if listener is not None else PollingListener()

    # ------------------------------------------------------------------ maintenance

    def leases_expired(self, params: LeasesExpiredParams) -> list[ExpiredLease]:
        rows = self._connections.read(
            statements.EXPIRED_LEASES, (time.time(), max(0, params.limit)))
        return [expired_lease(*row[:6], worker_id=row[6],
                              started_at=lenient(to_datetime, row[7]), history=row[8])
                for row in rows]

    def leases_rescue(self, params: LeasesRescueParams) -> list[bool]:
        if not params.rescues:
            return []
        now = time.time()
        applied: list[bool] = []
        with self._connections.write() as conn:
            for rescue in params.rescues:
                key = (rescue.lease.task_id, rescue.lease.token, now)
                if rescue.kind is RescueKind.FAIL:
                    cursor = conn.execute(statements.RESCUE_FAIL,
                                          (now, rescue.error, rescue.history, *key))
                else:
                    state = State.RETRYING if rescue.delay > 0 else State.QUEUED
                    cursor = conn.execute(
                        statements.RESCUE_REQUEUE, (state.value, now + max(0.0, rescue.delay),
                                                    rescue.error, rescue.history, *key))
                applied.append(cursor.rowcount == 1)
            failed = [r.lease.task_id for ok, r in zip(applied, params.rescues, strict=True)
                      if ok and r.kind is RescueKind.FAIL]
            if failed and (steps := workflow_steps(conn)).has_edges():
                steps.cascade(failed)
        if any(ok and r.kind is RescueKind.REQUEUE and r.delay <= 0
               for ok, r in zip(applied, params.rescues, strict=True)):
            self._wakeups.notify()
        if any(ok and r.kind is RescueKind.FAIL
               for ok, r in zip(applied, params.rescues, strict=True)):
            self._finishes.notify()
        return applied

    def tasks_promote(self, params: PromoteParams) -> int:
        now = time.time()
        if params.limit <= 0 or not self._connections.read(statements.ANY_DUE, (now,)):
            return 0
        with self._connections.write() as conn:
            promoted = conn.execute(statements.PROMOTE, (now, params.limit)).rowcount
        if promoted:
            self._wakeups.notify()
        return promoted

    def tasks_prune(self, params: PruneParams) -> int:
        now = time.time()
        ages = [(s.value, now - float(age)) for s, age in params.older_than.items()
                if s in FINAL_STATES]
        if not ages or params.limit <= 0:
            return 0
        with self._connections.write() as conn:
            return conn.execute(
                statements.prune_sql(len(ages)), [*(x for age in ages for x in age), params.limit],
            ).rowcount

    def leader_try(self, params: LeaderParams) -> bool:
        now = time.time()
        with self._connections.write() as conn:
            cursor = conn.execute(
                statements.LEADER_TRY, (params.name, params.holder, now + params.ttl, now))
            return cursor.rowcount == 1

    def leader_resign(self, params: LeaderParams) -> None:
        with self._connections.write() as conn:
            conn.execute(statements.LEADER_RESIGN, (params.name, params.holder))

    def listener(self, queues: Sequence[str] | None) -> Listener:
        listener = self._wakeups.listener()
        return listener if listener is not None else PollingListener()

    # ------------------------------------------------------------------ inspection

    def tasks_get(self, task_id: str) -> StoredTask | CorruptTask | None:
        rows = self._connections.read(statements.GET, (task_id,))
        return read_row(rows[0]) if rows else None

    def tasks_list(self, params: ListParams) -> list[StoredTask | CorruptTask]:
        where, sql_params = filter_where(params.filter, FILTERS)
        if params.before_id is not None:
            where += " AND id < ?"
            sql_params.append(params.before_id)
        rows = self._connections.read(
            statements.list_sql(where, params.with_payload), [*sql_params, params.limit])
        return [read_row(row) for row in rows]

    def tasks_count(self, task_filter: TaskFilter) -> int:
        where, sql_params = filter_where(task_filter, FILTERS)
        count: int = self._connections.read(statements.count_sql(where), sql_params)[0][0]
        return count

    def tasks_stats(self) -> dict[tuple[str, State], int]:
        return state_counts(self._connections.read(statements.STATS))

    def tasks_count_by_name(self, params: CountByNameParams) -> dict[str, int]:
        states = [str(s) for s in params.states]
        if not states:
            return {}
        rows = self._connections.read(statements.count_by_name_sql(len(states)), states)
        return {name: count for name, count in rows}

    # ------------------------------------------------------------------ operators

    def tasks_retry(self, task_filter: TaskFilter) -> int:
        now = time.time()
        where, sql_params = filter_where(task_filter, FILTERS)
        with self._connections.write() as conn:
            steps = workflow_steps(conn)
            ids = (steps.retryable_ids(where, sql_params, statements.RETRYABLE)
                   if steps.has_edges() else [])
            count = conn.execute(statements.retry_sql(where), [now, *sql_params]).rowcount
            if ids:
                steps.restore(ids)
        if count:
            self._wakeups.notify()
        return count

    def tasks_edit(self, params: TaskEditParams) -> bool:
        with self._connections.write() as conn:
            cursor = conn.execute(statements.EDIT, (
                params.payload, params.queue, params.priority, params.history, time.time(),
                params.task_id, params.expected_history))
            edited = cursor.rowcount == 1
            steps = workflow_steps(conn)
            if edited and steps.has_edges():
                steps.restore([params.task_id])  # its cancelled dependents wait again
        if edited:
            self._wakeups.notify()
        return edited

    def tasks_cancel(self, params: CancelParams) -> int:
        now = time.time()
        where, sql_params = filter_where(params.filter, FILTERS)
        with self._connections.write() as conn:
            steps = workflow_steps(conn)
            ids = ([row[0] for row in conn.execute(
                statements.unfinished_ids_sql(where), sql_params)] if steps.has_edges() else [])
            count = conn.execute(
                statements.cancel_sql(where), [now, params.reason, *sql_params]).rowcount
            if ids:
                steps.cascade(ids)
        if count:
            self._finishes.notify()
            self._cancels.notify()
        return count

    def tasks_delete(self, task_filter: TaskFilter) -> int:
        where, sql_params = filter_where(task_filter, FILTERS)
        with self._connections.write() as conn:
            return conn.execute(statements.delete_sql(where), sql_params).rowcount


__all__ = ["SQLiteBackend"]
