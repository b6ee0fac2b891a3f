"""SQLite: the embedded, zero-setup store, shared safely by many worker processes on one host.

WAL journal, a busy timeout and short ``BEGIN IMMEDIATE`` write transactions let several
processes claim from one file. ``synchronous=NORMAL`` (the default) survives any process
crash; add ``?synchronous=FULL`` to the URL to survive power loss as well. SQLite has no
server clock: this host's clock drives leases, which is right for a single-host store.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

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
    PollingListener,
    PromoteParams,
    PruneParams,
    RescueKind,
    StoredTask,
    TaskFilter,
    columns_without_payload,
    stored_state,
)
from taskbasket.backends.rows import (
    claimed_tasks,
    expired_lease,
    lenient,
    state_counts,
    stored_or_corrupt,
)
from taskbasket.backends.wakeup import WakeupDirectory
from taskbasket.errors import BackendUnavailableError, ConfigurationError
from taskbasket.ids import new_token
from taskbasket.task import FINAL_STATES, CorruptTask, State, TaskRef

TABLE = "taskbasket_tasks"
LEADERS = "taskbasket_leaders"
_PENDING = "('queued','scheduled','retrying')"
_FINAL = "('succeeded','failed','cancelled')"
_COLUMNS = (
    "id, name, queue, state, payload, priority, attempts, max_attempts, timeout, unique_key, "
    "last_error, created_at, run_at, started_at, finished_at, lease_expires_at, worker_id"
)
_COLUMNS_WITHOUT_PAYLOAD = columns_without_payload(_COLUMNS)

# Each entry upgrades the schema by one version; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    f"""
    CREATE TABLE {TABLE} (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        queue TEXT NOT NULL,
        state TEXT NOT NULL,
        payload TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        timeout REAL NOT NULL,
        unique_key TEXT,
        last_error TEXT,
        created_at REAL NOT NULL,
        run_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        lease_expires_at REAL,
        lease_token TEXT,
        worker_id TEXT
    );
    CREATE INDEX {TABLE}_ready ON {TABLE} (priority DESC, run_at, id)
        WHERE state IN {_PENDING};
    CREATE INDEX {TABLE}_leases ON {TABLE} (lease_expires_at) WHERE state = 'running';
    CREATE UNIQUE INDEX {TABLE}_unique ON {TABLE} (unique_key)
        WHERE unique_key IS NOT NULL AND state NOT IN {_FINAL};
    CREATE INDEX {TABLE}_finished ON {TABLE} (finished_at) WHERE finished_at IS NOT NULL;
    CREATE INDEX {TABLE}_state ON {TABLE} (state, queue, name);
    """,
    # 2: terms of leadership (see LeaderLock), in the same file
    f"""
    CREATE TABLE {LEADERS} (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    """,
    # 3: claims in enqueue order (ClaimOrder.CREATED) walk pending tasks by id
    f"""
    CREATE INDEX {TABLE}_ready_created ON {TABLE} (id) WHERE state IN {_PENDING};
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def _to_datetime(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _row_to_stored(row: tuple[Any, ...]) -> StoredTask:
    return StoredTask(
        id=row[0], name=row[1], queue=row[2], state=stored_state(row[0], row[3]),
        payload=row[4],
        priority=row[5], attempts=row[6], max_attempts=row[7], timeout=row[8],
        unique_key=row[9], last_error=row[10],
        created_at=lenient(_to_datetime, row[11]), run_at=lenient(_to_datetime, row[12]),
        started_at=lenient(_to_datetime, row[13]), finished_at=lenient(_to_datetime, row[14]),
        lease_expires_at=lenient(_to_datetime, row[15]), worker_id=row[16],
    )


def _read_row(row: tuple[Any, ...]) -> StoredTask | CorruptTask:
    return stored_or_corrupt(row[0], lambda: _row_to_stored(row))


def _claimed(row: tuple[Any, ...], token: str) -> ClaimedTask:
    return ClaimedTask(
        id=row[0], name=row[1], queue=row[2], payload=row[3], priority=row[4], attempts=row[5],
        max_attempts=row[6], timeout=row[7], lease_token=token,
        created_at=lenient(_to_datetime, row[8]), run_at=lenient(_to_datetime, row[9]),
        unique_key=row[10],
    )


def _placeholders(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _where(task_filter: TaskFilter, now: float) -> tuple[str, list[Any]]:
    """The WHERE clause (without the keyword) and its parameters for a filter."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, values in (
        ("id", task_filter.ids), ("state", task_filter.states),
        ("queue", task_filter.queues), ("name", task_filter.names),
    ):
        if values is not None:
            clauses.append(f"{column} IN ({_placeholders(values)})" if values else "0")
            params.extend(str(v) for v in values)
    if task_filter.finished_before is not None:
        clauses.append(f"state IN {_FINAL} AND finished_at < ?")
        params.append(now - task_filter.finished_before)
    return (" AND ".join(clauses) or "1"), params


def claim_sql(
    name_count: int | None, queue_count: int | None, count_attempt: bool = True,
    order: ClaimOrder = ClaimOrder.PRIORITY,
) -> str:
    """The claim statement: it walks the ready index of ``order`` in that order, so a
    claim reads only the rows it takes (plus any of other names or queues ahead of them,
    or not due yet). A count of None means any name or queue."""
    where = [f"state IN {_PENDING}", "run_at <= ?"]
    if name_count is not None:
        where.append(f"name IN ({','.join('?' * name_count)})")
    if queue_count is not None:
        where.append(f"queue IN ({','.join('?' * queue_count)})")
    attempts = "attempts+1" if count_attempt else "attempts"
    index, order_by = (
        (f"{TABLE}_ready_created", "id") if order is ClaimOrder.CREATED
        else (f"{TABLE}_ready", "priority DESC, run_at, id")
    )
    return (
        f"UPDATE {TABLE} SET state='running', attempts={attempts}, lease_token=?, "
        "lease_expires_at=?, started_at=?, worker_id=? "
        f"WHERE id IN (SELECT id FROM {TABLE} INDEXED BY {index} "
        f"WHERE {' AND '.join(where)} ORDER BY {order_by} LIMIT ?) "
        "RETURNING id, name, queue, payload, priority, attempts, max_attempts, timeout, "
        "created_at, run_at, unique_key"
    )


class SQLiteBackend(BackendBase):
    """A store in one SQLite file; one connection per thread."""

    capabilities = Capabilities(
        transactional_enqueue=True, server_clock=False, notifications=True, multi_host=False,
        leader_lock=True,
        created_order=True,
    )
    transient_errors = (BackendUnavailableError, OSError, sqlite3.OperationalError)
    """Busy past the timeout, disk full or read-only: the file may accept the call later."""

    def __init__(self, url: str, *, busy_timeout: float = 30.0, **_: Any) -> None:
        self.url = url
        parts = urlsplit(url)
        if parts.scheme != "sqlite":
            raise ConfigurationError(f"not a SQLite URL: {url!r}")
        path = unquote(parts.netloc + parts.path)
        if path.startswith("/") and not parts.netloc:
            path = path[1:]  # sqlite:///rel.db -> rel.db ; sqlite:////abs.db -> /abs.db
        if not path:
            raise ConfigurationError(
                f"SQLite URL {url!r} names no file: use sqlite:///relative.db or "
                "sqlite:////absolute/path.db"
            )
        if path == ":memory:":
            raise ConfigurationError(
                "sqlite:///:memory: cannot be shared by a worker's threads and processes; "
                "use a file, e.g. sqlite:////tmp/tasks.db"
            )
        options = dict(parse_qsl(parts.query))
        synchronous = options.pop("synchronous", "NORMAL").upper()
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ConfigurationError(
                f"synchronous={synchronous!r} in {url!r}: use NORMAL (the default) or FULL"
            )
        if "busy_timeout" in options:
            busy_timeout = float(options.pop("busy_timeout"))
        if options:
            raise ConfigurationError(
                f"unknown option(s) {sorted(options)} in {url!r}; SQLite URLs take "
                "synchronous and busy_timeout"
            )
        self.path = os.path.abspath(path)
        self._synchronous = synchronous
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._setup_lock = threading.Lock()
        self._migrated = False
        self._wakeups = WakeupDirectory(self.path + ".wake")

    # ------------------------------------------------------------------ connections

    def _connect(self) -> sqlite3.Connection:
        directory = os.path.dirname(self.path) or "."
        if not os.path.isdir(directory):
            raise BackendUnavailableError(
                f"cannot open SQLite store {self.path}: folder {directory} does not exist; "
                "create it or point the URL elsewhere"
            )
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise BackendUnavailableError(f"cannot open SQLite store {self.path}: {exc}") from exc
        try:
            self._ensure_wal(conn)
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA temp_store=MEMORY")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._explain(exc) from exc
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    def _ensure_wal(self, conn: sqlite3.Connection) -> None:
        """Switch a new file to WAL once. The switch needs the file to itself and fails at
        once (without the busy timeout) while another connection holds it, as happens
        when several threads or processes open a new store together: so retry."""
        if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            return
        deadline = time.monotonic() + self._busy_timeout
        with self._setup_lock:
            while True:
                try:
                    conn.execute("PRAGMA journal_mode=WAL").fetchone()
                    return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)

    def _explain(self, exc: sqlite3.Error) -> BackendUnavailableError:
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return BackendUnavailableError(
                f"{self.path} is not a SQLite database ({text}); point the store URL at a "
                "new file or at a taskbasket database. The file was left untouched"
            )
        if "readonly" in text or "read-only" in text:
            return BackendUnavailableError(
                f"SQLite store {self.path} is read-only ({text}); workers and producers need "
                "write access to the file and its folder (for -wal and -shm files)"
            )
        if "unable to open" in text:
            return BackendUnavailableError(
                f"cannot open SQLite store {self.path} ({text}); check the path and "
                "permissions"
            )
        return BackendUnavailableError(f"SQLite store {self.path}: {text}")

    @property
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            if not self._migrated:
                self.migrate()
        return conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction that takes the write lock up front."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._explain(exc) from exc
        try:
            yield conn
        except sqlite3.OperationalError as exc:  # read-only, locked past the timeout, disk
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise self._explain(exc) from exc
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise self._explain(exc) from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._explain(exc) from exc

    def migrate(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    version = conn.execute("PRAGMA user_version").fetchone()[0]
                    for script in MIGRATIONS[version:]:
                        for statement in script.split(";"):
                            if statement.strip():
                                conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            elif version > SCHEMA_VERSION:
                raise BackendUnavailableError(
                    f"{self.path} has taskbasket schema version {version}, newer than this "
                    f"taskbasket knows ({SCHEMA_VERSION}); upgrade taskbasket"
                )
        except sqlite3.DatabaseError as exc:
            raise self._explain(exc) from exc
        self._migrated = True

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
        self._local = threading.local()
        self._wakeups.close()

    def now(self) -> datetime:
        return datetime.now(UTC)

    # ------------------------------------------------------------------ producers

    def _insert_rows(self, conn: sqlite3.Connection, tasks: Sequence[NewTask]) -> list[TaskRef]:
        now = time.time()
        refs: list[TaskRef] = []
        plain: list[tuple[Any, ...]] = []
        sql = (
            f"INSERT INTO {TABLE} (id, name, queue, state, payload, priority, max_attempts, "
            "timeout, unique_key, created_at, run_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
        )
        for task in tasks:
            run_at = task.run_at.timestamp() if task.run_at is not None else now + task.delay
            state = State.QUEUED if run_at <= now else State.SCHEDULED
            row = (
                task.id, task.name, task.queue, state.value, task.payload, task.priority,
                task.max_attempts, task.timeout, task.unique_key, now, run_at,
            )
            if task.unique_key is None:
                plain.append(row)
                refs.append(TaskRef(task.id, True))
                continue
            if plain:
                conn.executemany(sql, plain)
                plain.clear()
            cursor = conn.execute(sql + " ON CONFLICT DO NOTHING", row)
            if cursor.rowcount == 1:
                refs.append(TaskRef(task.id, True))
            else:
                existing = conn.execute(
                    f"SELECT id FROM {TABLE} WHERE unique_key = ? AND state NOT IN {_FINAL}",
                    (task.unique_key,),
                ).fetchone()
                refs.append(TaskRef(existing[0], False))
        if plain:
            conn.executemany(sql, plain)
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
        with self._write() as conn:
            refs = self._insert_rows(conn, tasks)
        self._wakeups.notify()
        return refs

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
        has_table = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (TABLE,)
        ).fetchone()
        if not has_table:
            self.migrate()

    # ------------------------------------------------------------------ workers

    def tasks_claim(self, params: ClaimParams) -> list[ClaimedTask]:
        if params.limit <= 0 or (params.names is not None and not params.names):
            return []
        now = time.time()
        token = new_token()
        sql_params: list[Any] = [token, now + params.lease_seconds, now, params.worker_id, now]
        if params.names is not None:
            sql_params.extend(params.names)
        if params.queues is not None:
            sql_params.extend(params.queues)
        sql_params.append(params.limit)
        sql = claim_sql(None if params.names is None else len(params.names),
                        None if params.queues is None else len(params.queues),
                        params.count_attempt, params.order)
        with self._write() as conn:
            rows = conn.execute(sql, sql_params).fetchall()
        claimed = claimed_tasks(self, token, [
            (r[0], functools.partial(_claimed, r, token)) for r in rows])
        if params.order is ClaimOrder.CREATED:
            claimed.sort(key=lambda t: t.id)
        else:
            claimed.sort(key=lambda t: (-t.priority, t.run_at, t.id))
        return claimed

    def leases_extend(self, params: LeaseExtendParams) -> set[str]:
        if not params.leases:
            return set()
        expires = time.time() + params.lease_seconds
        held: set[str] = set()
        with self._write() as conn:
            for lease in params.leases:
                cursor = conn.execute(
                    f"UPDATE {TABLE} SET lease_expires_at=? "
                    "WHERE id=? AND lease_token=? AND state='running'",
                    (expires, lease.task_id, lease.token),
                )
                if cursor.rowcount:
                    held.add(lease.task_id)
        return held

    def tasks_finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        now = time.time()
        accepted: list[bool] = []
        fence = "WHERE id=? AND lease_token=? AND state='running'"
        clear = "lease_token=NULL, lease_expires_at=NULL"
        released = False
        with self._write() as conn:
            for outcome in outcomes:
                key = (outcome.lease.task_id, outcome.lease.token)
                if outcome.kind is OutcomeKind.SUCCEEDED and outcome.delete_on_success:
                    cursor = conn.execute(f"DELETE FROM {TABLE} {fence}", key)
                elif outcome.kind is OutcomeKind.SUCCEEDED:
                    cursor = conn.execute(
                        f"UPDATE {TABLE} SET state='succeeded', finished_at=?, {clear} {fence}",
                        (now, *key),
                    )
                elif outcome.kind is OutcomeKind.FAILED:
                    cursor = conn.execute(
                        f"UPDATE {TABLE} SET state='failed', finished_at=?, last_error=?, "
                        f"{clear} {fence}",
                        (now, outcome.error, *key),
                    )
                elif outcome.kind is OutcomeKind.RETRY:
                    run_at = (
                        outcome.retry_at.timestamp() if outcome.retry_at is not None
                        else now + outcome.retry_delay
                    )
                    cursor = conn.execute(
                        f"UPDATE {TABLE} SET state='retrying', run_at=?, last_error=?, "
                        f"{clear} {fence}",
                        (run_at, outcome.error, *key),
                    )
                else:
                    released = True
                    cursor = conn.execute(
                        f"UPDATE {TABLE} SET state='queued', attempts=max(attempts-1, 0), "
                        f"started_at=NULL, worker_id=NULL, {clear} {fence}",
                        key,
                    )
                accepted.append(cursor.rowcount == 1)
        if released:
            self._wakeups.notify()
        return accepted

    # ------------------------------------------------------------------ maintenance

    def leases_expired(self, params: LeasesExpiredParams) -> list[ExpiredLease]:
        rows = self._read(
            f"SELECT id, lease_token, name, queue, attempts, max_attempts FROM {TABLE} "
            "WHERE state='running' AND lease_expires_at < ? ORDER BY lease_expires_at "
            "LIMIT ?",
            (time.time(), max(0, params.limit)),
        )
        return [expired_lease(*row) for row in rows]

    def leases_rescue(self, params: LeasesRescueParams) -> list[bool]:
        if not params.rescues:
            return []
        now = time.time()
        applied: list[bool] = []
        fence = ("WHERE id=? AND lease_token=? AND state='running' AND lease_expires_at < ?")
        clear = "lease_token=NULL, lease_expires_at=NULL"
        with self._write() as conn:
            for rescue in params.rescues:
                key = (rescue.lease.task_id, rescue.lease.token, now)
                if rescue.kind is RescueKind.FAIL:
                    cursor = conn.execute(
                        f"UPDATE {TABLE} SET state='failed', finished_at=?, last_error=?, "
                        f"{clear} {fence}", (now, rescue.error, *key))
                else:
                    state = State.RETRYING if rescue.delay > 0 else State.QUEUED
                    cursor = conn.execute(
                        f"UPDATE {TABLE} SET state=?, run_at=?, last_error=?, {clear} {fence}",
                        (state.value, now + max(0.0, rescue.delay), rescue.error, *key))
                applied.append(cursor.rowcount == 1)
        if any(ok and r.kind is RescueKind.REQUEUE and r.delay <= 0
               for ok, r in zip(applied, params.rescues, strict=True)):
            self._wakeups.notify()
        return applied

    def tasks_promote(self, params: PromoteParams) -> int:
        now = time.time()
        due = "state IN ('scheduled','retrying') AND run_at <= ?"
        # a cheap read first: most runs find nothing and need no write lock
        if params.limit <= 0 or not self._read(f"SELECT 1 FROM {TABLE} WHERE {due} LIMIT 1",
                                               (now,)):
            return 0
        with self._write() as conn:
            promoted = conn.execute(
                f"UPDATE {TABLE} SET state='queued' WHERE id IN "
                f"(SELECT id FROM {TABLE} WHERE {due} LIMIT ?)", (now, params.limit),
            ).rowcount
        if promoted:
            self._wakeups.notify()
        return promoted

    def tasks_prune(self, params: PruneParams) -> int:
        now = time.time()
        ages = [(s.value, now - float(age)) for s, age in params.older_than.items()
                if s in FINAL_STATES]
        if not ages or params.limit <= 0:
            return 0
        condition = " OR ".join("(state = ? AND finished_at < ?)" for _ in ages)
        with self._write() as conn:
            return conn.execute(
                f"DELETE FROM {TABLE} WHERE id IN (SELECT id FROM {TABLE} "
                f"WHERE finished_at IS NOT NULL AND ({condition}) LIMIT ?)",
                [*(x for age in ages for x in age), params.limit],
            ).rowcount

    def leader_try(self, params: LeaderParams) -> bool:
        now = time.time()
        with self._write() as conn:
            cursor = conn.execute(
                f"INSERT INTO {LEADERS} (name, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder=excluded.holder, "
                f"expires_at=excluded.expires_at WHERE {LEADERS}.holder=excluded.holder "
                f"OR {LEADERS}.expires_at <= ?",
                (params.name, params.holder, now + params.ttl, now),
            )
            return cursor.rowcount == 1

    def leader_resign(self, params: LeaderParams) -> None:
        with self._write() as conn:
            conn.execute(f"DELETE FROM {LEADERS} WHERE name=? AND holder=?",
                         (params.name, params.holder))

    def listener(self, queues: Sequence[str] | None) -> Listener:
        listener = self._wakeups.listener()
        return listener if listener is not None else PollingListener()

    # ------------------------------------------------------------------ inspection

    def tasks_get(self, task_id: str) -> StoredTask | CorruptTask | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM {TABLE} WHERE id = ?", (task_id,))
        return _read_row(rows[0]) if rows else None

    def tasks_list(self, params: ListParams) -> list[StoredTask | CorruptTask]:
        where, sql_params = _where(params.filter, time.time())
        if params.before_id is not None:
            where += " AND id < ?"
            sql_params.append(params.before_id)
        columns = _COLUMNS if params.with_payload else _COLUMNS_WITHOUT_PAYLOAD
        rows = self._read(
            f"SELECT {columns} FROM {TABLE} WHERE {where} ORDER BY id DESC LIMIT ?",
            [*sql_params, params.limit],
        )
        return [_read_row(row) for row in rows]

    def tasks_count(self, task_filter: TaskFilter) -> int:
        where, sql_params = _where(task_filter, time.time())
        count: int = self._read(f"SELECT count(*) FROM {TABLE} WHERE {where}", sql_params)[0][0]
        return count

    def tasks_stats(self) -> dict[tuple[str, State], int]:
        rows = self._read(f"SELECT queue, state, count(*) FROM {TABLE} GROUP BY queue, state")
        return state_counts(rows)

    def tasks_count_by_name(self, params: CountByNameParams) -> dict[str, int]:
        states = [str(s) for s in params.states]
        if not states:
            return {}
        rows = self._read(f"SELECT name, count(*) FROM {TABLE} WHERE state IN "
                          f"({_placeholders(states)}) GROUP BY name", states)
        return {name: count for name, count in rows}

    # ------------------------------------------------------------------ operators

    def tasks_retry(self, task_filter: TaskFilter) -> int:
        now = time.time()
        where, sql_params = _where(task_filter, now)
        retryable = "('failed','cancelled','retrying','scheduled')"
        with self._write() as conn:
            count = conn.execute(
                f"UPDATE OR IGNORE {TABLE} SET state='queued', attempts=0, run_at=?, "
                "finished_at=NULL, started_at=NULL, lease_token=NULL, lease_expires_at=NULL "
                f"WHERE state IN {retryable} AND {where}",
                [now, *sql_params],
            ).rowcount
        if count:
            self._wakeups.notify()
        return count

    def tasks_cancel(self, task_filter: TaskFilter) -> int:
        now = time.time()
        where, sql_params = _where(task_filter, now)
        with self._write() as conn:
            return conn.execute(
                f"UPDATE {TABLE} SET state='cancelled', finished_at=?, lease_token=NULL, "
                f"lease_expires_at=NULL WHERE state NOT IN {_FINAL} AND {where}",
                [now, *sql_params],
            ).rowcount

    def tasks_delete(self, task_filter: TaskFilter) -> int:
        where, sql_params = _where(task_filter, time.time())
        with self._write() as conn:
            return conn.execute(f"DELETE FROM {TABLE} WHERE {where}", sql_params).rowcount


__all__ = ["MIGRATIONS", "SQLiteBackend"]
