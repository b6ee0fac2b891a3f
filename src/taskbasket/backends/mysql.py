"""MySQL 8 / MariaDB 10.6+: a multi-host store for shops that already run MySQL.

Workers on many hosts claim with ``SELECT ... FOR UPDATE SKIP LOCKED`` in short READ
COMMITTED transactions, so claimers never wait on each other. The server's clock
(``UTC_TIMESTAMP(6)``, the UTC reading of ``NOW(6)``) drives leases and schedules, so hosts
with skewed clocks agree. MySQL has no partial indexes: a stored generated column holds a
task's unique key only while the task is not final, and a UNIQUE index on it keeps keys
unique among live tasks; another generated column leads the claim index, so finished rows
pile up outside the range a claim scans.

Deadlocks and lock-wait timeouts are retried here with a short backoff. A broken connection
(server restart, ``KILL``) is dropped from the pool and the operation is retried once on a
fresh one where that is safe; otherwise the error surfaces as ``BackendUnavailableError``
and the worker retries with its own backoff. MySQL has no notifications: an idle worker
reads the newest task id every ``wake_interval`` (0.1 s) and claims when it changed; a
producer in the same process wakes its workers at once.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import hashlib
import logging
import random
import re
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import pymysql
import pymysql.connections
from pymysql.constants import CLIENT
from pymysql.converters import escape_string

from taskbasket.backends.base import (
    BackendBase,
    Capabilities,
    ClaimedTask,
    ClaimOrder,
    ClaimParams,
    CountByNameParams,
    ExpiredLease,
    LeaderParams,
    Lease,
    LeaseExtendParams,
    LeasesExpiredParams,
    LeasesRescueParams,
    Listener,
    ListParams,
    NewTask,
    Outcome,
    OutcomeKind,
    PromoteParams,
    PruneParams,
    RescueKind,
    StoredTask,
    TaskFilter,
    columns_without_payload,
    redact_url,
    stored_state,
)
from taskbasket.backends.rows import (
    claimed_tasks,
    expired_lease,
    lenient,
    state_counts,
    stored_or_corrupt,
)
from taskbasket.errors import BackendUnavailableError, ConfigurationError
from taskbasket.ids import new_token
from taskbasket.task import FINAL_STATES, CorruptTask, State, TaskRef

log = logging.getLogger("taskbasket.backends.mysql")

T = TypeVar("T")
R = TypeVar("R")


class _Cursor(Protocol):
    """The part of a PyMySQL cursor this module uses (PyMySQL ships no type hints)."""

    def execute(self, query: str, args: Any = None) -> int: ...

    def fetchall(self) -> Sequence[tuple[Any, ...]]: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...

    def nextset(self) -> bool | None: ...

    rowcount: int

    def __enter__(self) -> _Cursor: ...

    def __exit__(self, *exc: object) -> None: ...


class _Connection(Protocol):
    """The part of a PyMySQL connection this module uses."""

    open: bool
    server_status: int | None

    def cursor(self) -> _Cursor: ...

    def begin(self) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    def escape(self, value: Any) -> str: ...

    def get_autocommit(self) -> bool: ...


class _Session:
    """The statements of one operation on one connection.

    In a transaction, ``START TRANSACTION`` rides along with the first statement and
    ``COMMIT`` with the one passed ``commit=True`` (multi-statement packets), so a claim
    costs two round trips instead of four: each round trip also waits for the GIL in a
    busy worker. Outside a transaction statements run as they are, in autocommit mode.
    """

    def __init__(self, cursor: _Cursor, transaction: bool) -> None:
        self._cursor = cursor
        self.transaction = transaction
        self.begun = False
        self.committing = False
        self.committed = False
        self._rows: Sequence[tuple[Any, ...]] = ()

    def execute(self, sql: str, args: Any = None, *, commit: bool = False) -> int:
        """Run one statement; its row count (changed or selected rows)."""
        begin = self.transaction and not self.begun
        commit = commit and self.transaction
        text = ("START TRANSACTION; " if begin else "") + sql + ("; COMMIT" if commit else "")
        self.begun = self.begun or begin
        self.committing = commit
        self._cursor.execute(text, args)
        if begin:
            self._cursor.nextset()
        count = self._cursor.rowcount
        self._rows = self._cursor.fetchall()
        if commit:
            self._cursor.nextset()  # the COMMIT's reply: raises if it failed
            self.committed = True
        return count

    def fetchall(self) -> Sequence[tuple[Any, ...]]:
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None


_LIVE = "('queued','scheduled','running','retrying')"
_FINAL = "('succeeded','failed','cancelled')"
_NOW = "UTC_TIMESTAMP(6)"
_COLUMNS = (
    "id, name, queue, state, payload, priority, attempts, max_attempts, timeout, unique_key, "
    "last_error, created_at, run_at, started_at, finished_at, lease_expires_at, worker_id"
)
_COLUMNS_WITHOUT_PAYLOAD = columns_without_payload(_COLUMNS)

# Each entry upgrades the schema by one version; never edit one that has shipped.
# {tasks} and {leaders} are the qualified names of the tables.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE IF NOT EXISTS {tasks} (
            id BINARY(16) NOT NULL,
            name VARCHAR(200) NOT NULL,
            queue VARCHAR(200) NOT NULL,
            state ENUM('queued','scheduled','running','retrying','succeeded','failed',
                       'cancelled') NOT NULL,
            payload LONGTEXT NOT NULL,
            priority SMALLINT NOT NULL DEFAULT 0,
            attempts INT NOT NULL DEFAULT 0,
            max_attempts INT NOT NULL,
            timeout DOUBLE NOT NULL,
            unique_key VARBINARY(1020) NULL,
            last_error LONGTEXT NULL,
            created_at DATETIME(6) NOT NULL,
            run_at DATETIME(6) NOT NULL,
            started_at DATETIME(6) NULL,
            finished_at DATETIME(6) NULL,
            lease_expires_at DATETIME(6) NULL,
            lease_token VARBINARY(64) NULL,
            worker_id VARCHAR(255) NULL,
            pending TINYINT AS (IF(state IN ('queued','scheduled','retrying'), 1, 0)) STORED,
            unique_active VARBINARY(1020) AS (
                IF(state IN ('queued','scheduled','running','retrying'), unique_key, NULL)
            ) STORED,
            PRIMARY KEY (id),
            UNIQUE KEY unique_active (unique_active),
            KEY ready (pending, priority DESC, run_at, id),
            KEY due (state, run_at),
            KEY leases (state, lease_expires_at),
            KEY finished (state, finished_at),
            KEY listing (state, queue, name)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC
        """,
    ),
    # 2: terms of leadership (see LeaderLock)
    (
        """
        CREATE TABLE IF NOT EXISTS {leaders} (
            name VARCHAR(200) NOT NULL,
            holder VARCHAR(255) NOT NULL,
            expires_at DATETIME(6) NOT NULL,
            PRIMARY KEY (name)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
        """,
    ),
    # 3: claims in enqueue order (ClaimOrder.CREATED) walk pending tasks by id
    (
        "ALTER TABLE {tasks} ADD KEY ready_created (pending, id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# errors that mean the connection is gone (or was never made)
_CONNECTION_ERRORS = frozenset({
    1053,  # server shutdown in progress
    1927,  # connection was killed (MariaDB)
    2003,  # can't connect
    2006,  # server has gone away
    2013,  # lost connection during query
    2014,  # commands out of sync: the connection's state is unknown
    2055,  # lost connection (system error)
    4031,  # disconnected by the server for inactivity (MySQL 8)
})
_CONFLICTS = frozenset({1205, 1213})  # lock wait timeout, deadlock: retry the transaction
_CONFLICT_RETRIES = 10
_KINDS = {
    OutcomeKind.SUCCEEDED: "'s'", OutcomeKind.FAILED: "'f'",
    OutcomeKind.RETRY: "'r'", OutcomeKind.RELEASED: "'q'",
}
_MAX_STATEMENT_BYTES = 8 * 1024 * 1024
_DELETE_BATCH = 5000
_MIGRATION_LOCK_SECONDS = 60

_SCHEMES = ("mysql", "mariadb", "mysql+pymysql", "mariadb+pymysql")
_OPTIONS: dict[str, str] = {
    "table_prefix": "prefix of the table names (letters, digits, _); default taskbasket_",
    "pool_size": "most connections this process opens; default 10",
    "pool_timeout": "seconds to wait for a free connection; default 30",
    "connect_timeout": "seconds to connect, handshake included; default 10",
    "read_timeout": "seconds to wait for a reply; default 120",
    "write_timeout": "seconds to wait to send; default 120",
    "lock_wait_timeout": "innodb_lock_wait_timeout of the store's sessions; default 10",
    "wake_interval": "seconds between an idle worker's checks for tasks stored by other "
    "processes; default 0.1, 0 for plain polling",
    "unix_socket": "path of the server's Unix socket, instead of host and port",
    "ssl_ca": "CA file to verify the server with (turns TLS on)",
    "ssl_cert": "client certificate file",
    "ssl_key": "client key file",
    "ssl_verify_cert": "true or false; default true when ssl_ca is set",
    "ssl_verify_identity": "true or false: check the server's host name; default true "
    "when ssl_ca is set",
}
_PREFIX = re.compile(r"^[A-Za-z0-9_]{0,40}$")


# --------------------------------------------------------------------------- helpers


def _deletes(outcome: Outcome) -> bool:
    """Whether recording ``outcome`` deletes its task (a success of delete_on_success)."""
    return outcome.kind is OutcomeKind.SUCCEEDED and outcome.delete_on_success


def _id_bytes(task_id: Any) -> bytes | None:
    """A task id as stored (16 bytes), or None if it is no UUID (then it matches nothing)."""
    try:
        return uuid.UUID(str(task_id)).bytes
    except (ValueError, TypeError, AttributeError):
        return None


def _id_str(raw: bytes) -> str:
    return str(uuid.UUID(bytes=bytes(raw)))


def _quote(text: str) -> str:
    """A string literal for the store's own sessions (their sql_mode keeps backslashes)."""
    return f"'{escape_string(text)}'"


def _hex(raw: bytes) -> str:
    return f"X'{raw.hex()}'"


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


_MIN_DATETIME = datetime(1970, 1, 1, tzinfo=UTC)


def _datetime_literal(value: datetime) -> str:
    """An aware (or UTC-naive) datetime as a DATETIME(6) literal in UTC."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        value = value.astimezone(UTC)
    else:
        value = value.replace(tzinfo=UTC)
    value = max(value, _MIN_DATETIME)  # DATETIME starts at year 1000; the past is past
    return f"CAST('{value.strftime('%Y-%m-%d %H:%M:%S.%f')}' AS DATETIME(6))"


def _micros(seconds: float) -> int:
    return max(0, round(seconds * 1_000_000))


def _decode(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8") if isinstance(value, bytes | bytearray) else str(value)


def _row_to_stored(row: Sequence[Any]) -> StoredTask:
    task_id = _id_str(row[0])
    return StoredTask(
        id=task_id, name=row[1], queue=row[2], state=stored_state(task_id, row[3]),
        payload=row[4],
        priority=row[5], attempts=row[6], max_attempts=row[7], timeout=float(row[8]),
        unique_key=_decode(row[9]), last_error=row[10],
        created_at=lenient(_aware, row[11]), run_at=lenient(_aware, row[12]),
        started_at=lenient(_aware, row[13]), finished_at=lenient(_aware, row[14]),
        lease_expires_at=lenient(_aware, row[15]), worker_id=row[16],
    )


def _read_row(row: Sequence[Any]) -> StoredTask | CorruptTask:
    return stored_or_corrupt(_id_str(row[0]), lambda: _row_to_stored(row))


def _claimed(row: Sequence[Any], token: str, added: int) -> ClaimedTask:
    return ClaimedTask(
        id=_id_str(row[0]), name=row[1], queue=row[2], payload=row[3], priority=row[4],
        attempts=row[5] + added, max_attempts=row[6], timeout=float(row[7]),
        lease_token=token, created_at=lenient(_aware, row[8]),
        run_at=lenient(_aware, row[9]), unique_key=_decode(row[10]),
    )


def _error_code(exc: BaseException) -> int | None:
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, pymysql.err.InterfaceError | OSError | EOFError):
        return True  # InterfaceError: the connection is closed already
    return isinstance(exc, pymysql.err.OperationalError) and _error_code(exc) in (
        _CONNECTION_ERRORS
    )


def _bool_option(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"option {name}={value!r}: use true or false")


def _number_option(
    name: str, value: Any, *, integer: bool = False, allow_zero: bool = False
) -> float:
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        kind = "a whole number" if integer else "a number of seconds"
        raise ConfigurationError(f"option {name}={value!r} must be {kind}") from None
    if not (number >= 0 if allow_zero else number > 0) or number != number:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigurationError(f"option {name}={value!r} must be {bound}")
    return number


# --------------------------------------------------------------------------- pool


class _Pool:
    """A small thread-safe pool: idle connections are reused newest first.

    A connection that failed is closed, never returned; ``discard_idle`` closes the idle
    ones too (after a server restart they are all dead). ``reset`` (on close) makes every
    connection opened before it close when it comes back.
    """

    def __init__(self, connect: Callable[[], _Connection], size: int, timeout: float) -> None:
        self._connect = connect
        self._size = size
        self._timeout = timeout
        self._idle: list[tuple[_Connection, int]] = []
        self._open = 0
        self._generation = 0
        self._cond = threading.Condition()

    def acquire(self) -> tuple[_Connection, int]:
        deadline = time.monotonic() + self._timeout
        with self._cond:
            while True:
                if self._idle:
                    return self._idle.pop()
                if self._open < self._size:
                    self._open += 1
                    generation = self._generation
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BackendUnavailableError(
                        f"all {self._size} connections of the MySQL pool stayed busy for "
                        f"{self._timeout:g}s; raise pool_size in the store URL"
                    )
                self._cond.wait(left)
        try:
            return self._connect(), generation
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def release(self, conn: _Connection, generation: int, *, broken: bool = False) -> None:
        with self._cond:
            keep = not broken and generation == self._generation and conn.open
            if keep:
                self._idle.append((conn, generation))
            else:
                self._open -= 1
            self._cond.notify()
        if not keep:
            _close_quietly(conn)

    def discard_idle(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for conn, _ in idle:
            _close_quietly(conn)

    def reset(self) -> None:
        with self._cond:
            self._generation += 1
        self.discard_idle()


def _close_quietly(conn: _Connection) -> None:
    with contextlib.suppress(Exception):
        conn.close()


# --------------------------------------------------------------------------- listener


class _PollingListener:
    """Polling, woken early: at once when this process stored or released tasks, and
    within ``interval`` seconds when another process stored tasks.

    MySQL has no notifications. Instead an idle listener reads the newest task id every
    ``interval`` (``SELECT MAX(id)`` on the primary key: one index dive) and wakes its
    worker when it changed. Tasks that come due or are requeued by a rescue are found by
    the worker's regular polling.
    """

    def __init__(self, newest: Callable[[], bytes | None] | None, interval: float) -> None:
        self._event = threading.Event()
        self._closed = False
        self._newest = newest
        self._interval = interval
        self._seen: bytes | None = None
        self._seen = self._probe()  # before the worker's first claim: nothing slips by

    def _probe(self) -> bytes | None:
        if self._newest is None:
            return None
        try:
            return self._newest()
        except Exception as exc:  # the worker's claims report outages; keep polling
            log.debug("wake-up probe failed: %s", exc)
            return self._seen

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            step = min(left, self._interval) if self._newest is not None else left
            if self._event.wait(step):
                self._event.clear()
                return not self._closed
            newest = self._probe()
            if newest != self._seen:
                self._seen = newest
                return True
        return False

    def notify(self) -> None:
        self._event.set()

    def close(self) -> None:
        self._closed = True
        self._event.set()


# --------------------------------------------------------------------------- backend


class MySQLBackend(BackendBase):
    """Tasks in one InnoDB table of a MySQL 8 or MariaDB 10.6+ database.

    ``mysql://user:password@host:3306/database?table_prefix=taskbasket_`` (also
    ``mariadb://`` and ``mysql+pymysql://``); options may be given as keyword arguments
    too. Thread-safe: a pool of PyMySQL connections (``pool_size``, default 10).
    """

    capabilities = Capabilities(
        transactional_enqueue=True, server_clock=True, notifications=False, multi_host=True,
        leader_lock=True,
        created_order=True,
    )

    def is_transient(self, exc: BaseException) -> bool:
        """A lost connection or an outage, or a deadlock or lock wait still failing after
        the retries here; not an error the server gave about the statement's data."""
        return (isinstance(exc, self.transient_errors) or _is_connection_error(exc)
                or _error_code(exc) in _CONFLICTS)

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise ConfigurationError(
                f"not a MySQL URL: {redact_url(url)!r}; write "
                "mysql://user:password@host:3306/database (mariadb:// and mysql+pymysql:// "
                "work too; the driver is always PyMySQL)"
            )
        try:
            port = parts.port or 3306
        except ValueError:
            raise ConfigurationError(f"bad port in MySQL URL {redact_url(url)!r}") from None
        self.database = unquote(parts.path.lstrip("/"))
        if not self.database or "/" in self.database or len(self.database) > 64:
            raise ConfigurationError(
                f"MySQL URL {redact_url(url)!r} names no database: write "
                "mysql://user:password@host:3306/database (create the database first)"
            )
        merged: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
        merged.update(options)
        unknown = sorted(set(merged) - set(_OPTIONS))
        if unknown:
            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, list(_OPTIONS), n=1)
                hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ConfigurationError(
                f"unknown MySQL store option(s) {', '.join(hints)}; known options: "
                + "; ".join(f"{k}: {v}" for k, v in _OPTIONS.items())
            )
        prefix = str(merged.get("table_prefix", "taskbasket_"))
        if not _PREFIX.match(prefix):
            raise ConfigurationError(
                f"table_prefix={prefix!r}: use up to 40 letters, digits and underscores"
            )
        self.table_prefix = prefix
        self.host = parts.hostname or "localhost"
        self.port = port
        self.unix_socket: str | None = merged.get("unix_socket") or None
        self._user = unquote(parts.username) if parts.username is not None else None
        self._password = unquote(parts.password) if parts.password is not None else ""
        pool_size = int(_number_option("pool_size", merged.get("pool_size", 10), integer=True))
        pool_timeout = _number_option("pool_timeout", merged.get("pool_timeout", 30))
        self._connect_timeout = _number_option(
            "connect_timeout", merged.get("connect_timeout", 10))
        self._read_timeout = _number_option("read_timeout", merged.get("read_timeout", 120))
        self._write_timeout = _number_option("write_timeout", merged.get("write_timeout", 120))
        self._wake_interval = _number_option(
            "wake_interval", merged.get("wake_interval", 0.1), allow_zero=True)
        self._lock_wait_timeout = int(_number_option(
            "lock_wait_timeout", merged.get("lock_wait_timeout", 10), integer=True))
        self._ssl: dict[str, Any] | None = None
        if any(k in merged for k in ("ssl_ca", "ssl_cert", "ssl_key")):
            ssl: dict[str, Any] = {}
            for key in ("ssl_ca", "ssl_cert", "ssl_key"):
                if merged.get(key):
                    ssl[key.removeprefix("ssl_")] = merged[key]
            if "ssl_verify_identity" in merged:  # PyMySQL checks it by default with a CA
                ssl["check_hostname"] = _bool_option(
                    "ssl_verify_identity", merged["ssl_verify_identity"])
            self._ssl = ssl
        self._ssl_verify_cert = (
            _bool_option("ssl_verify_cert", merged["ssl_verify_cert"])
            if "ssl_verify_cert" in merged else None
        )

        quoted_db = "`" + self.database.replace("`", "``") + "`"
        self.table = f"{quoted_db}.`{prefix}tasks`"
        self.versions_table = f"{quoted_db}.`{prefix}schema_version`"
        self.leaders_table = f"{quoted_db}.`{prefix}leaders`"
        digest = hashlib.sha1(f"{self.database}.{prefix}".encode()).hexdigest()[:32]
        self._lock_name = f"taskbasket.migrate.{digest}"
        self._pool = _Pool(self._connect, pool_size, pool_timeout)
        self._migrated = False
        self._migrate_lock = threading.Lock()
        self._max_statement = _MAX_STATEMENT_BYTES
        self._listeners: weakref.WeakSet[_PollingListener] = weakref.WeakSet()
        self._listeners_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<MySQLBackend {self._where()}/{self.database} prefix={self.table_prefix!r}>"

    # ------------------------------------------------------------------ connections

    def _where(self) -> str:
        return f"unix socket {self.unix_socket}" if self.unix_socket else (
            f"{self.host}:{self.port}"
        )

    def _unavailable(self, exc: BaseException) -> BackendUnavailableError:
        code = _error_code(exc)
        where = self._where()
        if code == 1045:
            return BackendUnavailableError(
                f"MySQL server at {where} refused user {self._user!r} ({exc}); check the "
                "user and password in the store URL"
            )
        if code == 1049:
            return BackendUnavailableError(
                f"database {self.database!r} does not exist on the MySQL server at {where}; "
                f"create it: CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4"
            )
        if code in (1040, 1203):
            return BackendUnavailableError(
                f"the MySQL server at {where} has no connection to spare ({exc}); lower "
                "pool_size or the number of workers, or raise max_connections"
            )
        return BackendUnavailableError(
            f"cannot use the MySQL server at {where} ({type(exc).__name__}: {exc}); check "
            f"that it is running and reachable and that the store URL {redact_url(self.url)!r} "
            "is right"
        )

    def _connect(self) -> _Connection:
        kwargs: dict[str, Any] = {
            "user": self._user, "password": self._password, "database": self.database,
            "charset": "utf8mb4", "autocommit": True,
            "connect_timeout": self._connect_timeout,
            # the handshake and the session setup are part of connecting: bounded by
            # connect_timeout, as on PostgreSQL and Redis (not by the 120 s read_timeout)
            "read_timeout": self._connect_timeout, "write_timeout": self._connect_timeout,
            "client_flag": CLIENT.MULTI_STATEMENTS,
        }
        if self.unix_socket:
            kwargs["unix_socket"] = self.unix_socket
        else:
            kwargs["host"] = self.host
            kwargs["port"] = self.port
        if self._ssl is not None:
            kwargs["ssl"] = self._ssl
        if self._ssl_verify_cert is not None:
            kwargs["ssl_verify_cert"] = self._ssl_verify_cert
        try:
            conn: _Connection = pymysql.connect(**kwargs)
        except (pymysql.err.MySQLError, OSError) as exc:
            raise self._unavailable(exc) from exc
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                cur.execute(
                    "SET SESSION time_zone = '+00:00', "
                    f"innodb_lock_wait_timeout = {self._lock_wait_timeout}, "
                    "sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
                    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
                )
                cur.execute("SELECT @@max_allowed_packet")
                row = cur.fetchone()
        except BaseException as exc:
            _close_quietly(conn)
            if isinstance(exc, pymysql.err.MySQLError | OSError):
                raise self._unavailable(exc) from exc
            raise
        # connected: queries get their own bounds. PyMySQL has no public setter; its reads
        # and writes apply these attributes before each socket operation
        conn._read_timeout = self._read_timeout  # type: ignore[attr-defined]
        conn._write_timeout = self._write_timeout  # type: ignore[attr-defined]
        if row:
            self._max_statement = max(64 * 1024, min(_MAX_STATEMENT_BYTES, int(row[0]) - 4096))
        return conn

    def _run(
        self,
        work: Callable[[_Session], T],
        *,
        transaction: bool,
        idempotent: bool,
        migrate: bool = True,
    ) -> T:
        """Run ``work`` on a pooled connection, inside a transaction if ``transaction``.

        Deadlocks and lock-wait timeouts roll back and run ``work`` again after a short
        backoff. A broken connection is closed (with the idle ones: after a restart all
        are dead) and ``work`` runs once more on a fresh connection if that cannot apply
        it twice: it failed before COMMIT was sent, or it is ``idempotent``.
        """
        if migrate and not self._migrated:
            self.migrate()
        conflicts = 0
        reconnected = False
        while True:
            conn, generation = self._pool.acquire()
            session: _Session | None = None
            try:
                with conn.cursor() as cur:
                    session = _Session(cur, transaction)
                    result = work(session)
                    if session.begun and not session.committed:
                        session.committing = True
                        conn.commit()
            except BaseException as exc:
                broken = _is_connection_error(exc) or not isinstance(exc, Exception)
                if not broken and session is not None and session.begun:
                    try:
                        conn.rollback()
                    except Exception:
                        broken = True
                self._pool.release(conn, generation, broken=broken)
                if _is_connection_error(exc):
                    self._pool.discard_idle()
                    committing = session is not None and session.committing
                    safe = idempotent or (transaction and not committing)
                    if safe and not reconnected:
                        reconnected = True
                        log.info("MySQL connection lost (%s); retrying on a new one", exc)
                        continue
                    raise self._unavailable(exc) from exc
                if _error_code(exc) in _CONFLICTS and conflicts < _CONFLICT_RETRIES:
                    conflicts += 1
                    delay = min(0.5, 0.005 * 2**conflicts) * random.uniform(0.5, 1.5)
                    log.debug("MySQL %s; retry %d in %.3fs", exc, conflicts, delay)
                    time.sleep(delay)
                    continue
                raise
            self._pool.release(conn, generation)
            return result

    def _read(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        def work(cur: _Session) -> list[tuple[Any, ...]]:
            cur.execute(sql, params)
            return list(cur.fetchall())

        return self._run(work, transaction=False, idempotent=True)

    # ------------------------------------------------------------------ schema

    def migrate(self) -> None:
        """Apply the migrations this database lacks, under a server-wide named lock."""
        with self._migrate_lock:
            if self._migrated:
                return
            self._run(self._migrate, transaction=False, idempotent=True, migrate=False)
            self._migrated = True

    def _schema_version(self, cur: _Session) -> int:
        try:
            cur.execute(f"SELECT MAX(version) FROM {self.versions_table}")
        except pymysql.err.ProgrammingError as exc:
            if _error_code(exc) == 1146:  # no such table: a new database
                return 0
            raise
        row = cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _migrate(self, cur: _Session) -> None:
        version = self._schema_version(cur)
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise BackendUnavailableError(
                f"{self.table} has taskbasket schema version {version}, newer than this "
                f"taskbasket knows ({SCHEMA_VERSION}); upgrade taskbasket"
            )
        cur.execute("SELECT GET_LOCK(%s, %s)", (self._lock_name, _MIGRATION_LOCK_SECONDS))
        row = cur.fetchone()
        if not row or row[0] != 1:
            raise BackendUnavailableError(
                f"could not take the migration lock {self._lock_name!r} on {self._where()} "
                f"within {_MIGRATION_LOCK_SECONDS}s: another process is migrating (or hung "
                "while migrating) this store; try again"
            )
        try:
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.versions_table} ("
                "version INT NOT NULL PRIMARY KEY, applied_at DATETIME(6) NOT NULL"
                ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
            )
            version = self._schema_version(cur)
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[number - 1]:
                    cur.execute(statement.format(tasks=self.table,
                                                 leaders=self.leaders_table))
                cur.execute(
                    f"INSERT INTO {self.versions_table} (version, applied_at) "
                    f"VALUES (%s, {_NOW})",
                    (number,),
                )
                log.info("migrated %s to schema version %d", self.table, number)
        finally:
            cur.execute("SELECT RELEASE_LOCK(%s)", (self._lock_name,))
            cur.fetchall()

    def close(self) -> None:
        self._pool.reset()
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener.close()

    def now(self) -> datetime:
        row = self._read(f"SELECT {_NOW}")[0]
        moment: datetime = row[0]
        return moment.replace(tzinfo=UTC)

    # ------------------------------------------------------------------ producers

    @staticmethod
    def _row_sql(task: NewTask, esc: Callable[[str], str]) -> str:
        raw_id = _id_bytes(task.id)
        if raw_id is None:
            raise ConfigurationError(f"task id {task.id!r} is not a UUID")
        if task.run_at is not None:
            run_at = _datetime_literal(task.run_at)
            state = f"IF({run_at} <= {_NOW}, 'queued', 'scheduled')"
        elif task.delay > 0:
            run_at = f"{_NOW} + INTERVAL {_micros(task.delay)} MICROSECOND"
            state = "'scheduled'"
        else:
            run_at = _NOW
            state = "'queued'"
        unique = "NULL" if task.unique_key is None else _hex(task.unique_key.encode("utf-8"))
        return (
            f"({_hex(raw_id)},{esc(task.name)},{esc(task.queue)},{state},"
            f"{esc(task.payload)},{int(task.priority)},{int(task.max_attempts)},"
            f"{float(task.timeout)!r},{unique},{_NOW},{run_at})"
        )

    def _chunks(self, rows: Iterable[R], what: str, text: Callable[[R], str]) -> list[list[R]]:
        """Group rows so that no statement outgrows the server's packet limit."""
        limit = self._max_statement
        chunks: list[list[R]] = [[]]
        size = 0
        for row in rows:
            sql = text(row)
            length = len(sql) if sql.isascii() else len(sql.encode("utf-8"))
            if length > limit:
                raise ConfigurationError(
                    f"a {what} takes {length} bytes as SQL, over what the MySQL server "
                    f"accepts in one statement (max_allowed_packet allows {limit}); raise "
                    "max_allowed_packet on the server or keep payloads smaller"
                )
            if size + length > limit and chunks[-1]:
                chunks.append([])
                size = 0
            chunks[-1].append(row)
            size += length + 32
        return [chunk for chunk in chunks if chunk]

    def _insert_statements(self, tasks: Sequence[NewTask], esc: Callable[[str], str]) -> list[str]:
        return [
            f"INSERT INTO {self.table} (id, name, queue, state, payload, priority, "
            f"max_attempts, timeout, unique_key, created_at, run_at) VALUES {','.join(rows)} "
            "ON DUPLICATE KEY UPDATE id = id"
            for rows in self._chunks((self._row_sql(t, esc) for t in tasks), "task", str)
        ]

    def _insert_on(
        self, cur: _Session, tasks: Sequence[NewTask], statements: Sequence[str]
    ) -> list[TaskRef]:
        keyed = [t for t in tasks if t.unique_key is not None]
        for index, statement in enumerate(statements):
            cur.execute(statement, commit=not keyed and index == len(statements) - 1)
        if not keyed:
            return [TaskRef(t.id, True) for t in tasks]
        # which keyed tasks went in, and who holds the keys of those that did not
        ids = ",".join(_hex(_id_bytes(t.id) or b"") for t in keyed)
        keys = ",".join(_hex((t.unique_key or "").encode("utf-8")) for t in keyed)
        # Locking reads see the newest committed rows even in a REPEATABLE READ snapshot
        # (the application's connection); the holders are locked by the insert already.
        cur.execute(
            f"(SELECT id, unique_active FROM {self.table} WHERE id IN ({ids}) "
            "LOCK IN SHARE MODE) UNION ALL "
            f"(SELECT id, unique_active FROM {self.table} WHERE unique_active IN ({keys}) "
            "LOCK IN SHARE MODE)",
            commit=True,
        )
        present: set[str] = set()
        holders: dict[bytes, str] = {}
        for raw_id, active in cur.fetchall():
            present.add(_id_str(raw_id))
            if active is not None:
                holders[bytes(active)] = _id_str(raw_id)
        refs: list[TaskRef] = []
        for task in tasks:
            if task.unique_key is None or task.id in present:
                refs.append(TaskRef(task.id, True))
                continue
            holder = holders.get(task.unique_key.encode("utf-8"))
            if holder is None:  # cannot happen: the insert would have gone in
                raise BackendUnavailableError(
                    f"task {task.id} with unique key {task.unique_key!r} was neither stored "
                    "nor found held by another task; enqueue it again"
                )
            refs.append(TaskRef(holder, False))
        return refs

    @staticmethod
    def _in_transaction(conn: _Connection) -> bool:
        from pymysql.constants import SERVER_STATUS

        status = conn.server_status or 0
        in_trans = bool(status & SERVER_STATUS.SERVER_STATUS_IN_TRANS)
        return in_trans or not conn.get_autocommit()

    def tasks_insert(self, tasks: Sequence[NewTask], connection: Any = None) -> list[TaskRef]:
        if not tasks:
            return []
        if connection is not None:
            return self._insert_on_app_connection(tasks, connection)
        if not self._migrated:
            self.migrate()  # first: it learns the server's packet limit that sizes statements
        statements = self._insert_statements(tasks, _quote)
        # One statement in autocommit mode is atomic and costs one round trip; several, or
        # the unique-key lookup (which must see the insert's own locks), need a transaction.
        # Every insert is ON DUPLICATE KEY UPDATE id = id, so running it again after a lost
        # COMMIT reply cannot store a task twice.
        keyed = any(t.unique_key is not None for t in tasks)
        refs = self._run(
            lambda cur: self._insert_on(cur, tasks, statements),
            transaction=keyed or len(statements) > 1, idempotent=True,
        )
        self._notify()
        return refs

    def _insert_on_app_connection(
        self, tasks: Sequence[NewTask], connection: Any
    ) -> list[TaskRef]:
        if not isinstance(connection, pymysql.connections.Connection):
            raise ConfigurationError(
                "connection= must be a PyMySQL connection (pymysql.connections.Connection, "
                "from pymysql.connect(...), or a SQLAlchemy Session/Connection on "
                f"mysql+pymysql) for the MySQL store, got "
                f"{type(connection).__module__}.{type(connection).__name__}"
            )
        if not self._migrated:
            self.migrate()
        charset = str(getattr(connection, "charset", "")).lower()
        if charset != "utf8mb4":
            raise ConfigurationError(
                f"connection= uses charset {charset!r}; open it with "
                "pymysql.connect(..., charset='utf8mb4') so any text is stored intact"
            )
        statements = self._insert_statements(tasks, connection.escape)
        if len(statements) > 1 and not self._in_transaction(connection):
            raise ConfigurationError(
                f"{len(tasks)} tasks need {len(statements)} INSERT statements, and the "
                "connection= is in autocommit mode outside a transaction, so they could not "
                "be stored all or none; call connection.begin() first (or enqueue fewer)"
            )
        try:
            with connection.cursor() as cur:
                refs = self._insert_on(_Session(cur, transaction=False), tasks, statements)
        except pymysql.err.ProgrammingError as exc:
            if _error_code(exc) == 1146:
                raise ConfigurationError(
                    f"connection= cannot see the table {self.table} ({exc}); it must be "
                    f"connected to the store's server ({self._where()}), where taskbasket "
                    "keeps its tasks, so that they join your transaction"
                ) from exc
            raise
        self._notify()  # early is harmless: workers find nothing and poll again
        return refs

    # ------------------------------------------------------------------ workers

    def tasks_claim(self, params: ClaimParams) -> list[ClaimedTask]:
        if params.limit <= 0 or (params.names is not None and not params.names):
            return []
        if params.queues is not None and not params.queues:
            return []
        token = new_token()
        where = ["pending = 1", f"run_at <= {_NOW}"]
        args: list[Any] = []
        if params.names is not None:
            where.append(f"name IN ({_marks(params.names)})")
            args.extend(params.names)
        added = 1 if params.count_attempt else 0
        if params.queues is not None:
            where.append(f"queue IN ({_marks(params.queues)})")
            args.extend(params.queues)
        index, order_by = (
            ("FORCE INDEX (ready_created) ", "id") if params.order is ClaimOrder.CREATED
            else ("", "priority DESC, run_at, id")
        )
        select = (
            "SELECT id, name, queue, payload, priority, attempts, max_attempts, timeout, "
            f"created_at, run_at, unique_key FROM {self.table} {index}"
            f"WHERE {' AND '.join(where)} ORDER BY {order_by} LIMIT {int(params.limit)} "
            "FOR UPDATE SKIP LOCKED"
        )
        lease = _micros(params.lease_seconds)

        selected: list[tuple[Any, ...]] = []

        def work(cur: _Session) -> list[tuple[Any, ...]]:
            cur.execute(select, args)
            rows = list(cur.fetchall())
            selected[:] = rows
            if rows:
                ids = ",".join(_hex(r[0]) for r in rows)
                cur.execute(
                    f"UPDATE {self.table} SET state = 'running', attempts = attempts + {added}, "
                    f"lease_token = %s, lease_expires_at = {_NOW} + INTERVAL {lease} "
                    f"MICROSECOND, started_at = {_NOW}, worker_id = %s WHERE id IN ({ids})",
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
        return claimed_tasks(self, token, [
            (_id_str(r[0]), functools.partial(_claimed, r, token, added)) for r in rows])

    def _claimed_after_all(
        self, selected: Sequence[tuple[Any, ...]], token: str
    ) -> list[tuple[Any, ...]]:
        """The rows a claim took although the reply to its COMMIT was lost.

        Without this, they would stay leased to nobody until the lease ran out. The token
        is new to this claim, so the rows carrying it are exactly the ones it took.
        """
        ids = ",".join(_hex(row[0]) for row in selected)
        try:
            held = self._read(
                f"SELECT id FROM {self.table} WHERE id IN ({ids}) AND state = 'running' "
                "AND lease_token = %s",
                (token.encode(),),
            )
        except BackendUnavailableError:
            log.warning("a claim's COMMIT reply was lost and the store is unreachable: "
                        "its tasks (if it committed) run again once their leases expire")
            raise
        taken = {bytes(raw) for (raw,) in held}
        log.info("a claim's COMMIT reply was lost; it had taken %d task(s)", len(taken))
        return [row for row in selected if bytes(row[0]) in taken]

    @staticmethod
    def _lease_rows(leases: Iterable[Lease]) -> tuple[list[tuple[Lease, bytes]], dict[int, int]]:
        """The leases with valid ids, first occurrence only; and index -> position."""
        seen: set[bytes] = set()
        valid: list[tuple[Lease, bytes]] = []
        positions: dict[int, int] = {}
        for index, lease in enumerate(leases):
            raw = _id_bytes(lease.task_id)
            if raw is None or raw in seen:
                continue
            seen.add(raw)
            positions[index] = len(valid)
            valid.append((lease, raw))
        return valid, positions

    def _held(self, cur: _Session, pairs: Sequence[tuple[Lease, bytes]], states: str,
              stamp: bytes = b"", *, lock: bool = False) -> set[str]:
        """Ids among ``pairs`` whose row is in ``states`` and carries the lease's token
        (followed by ``stamp``, for rows an outcome recorded); with ``lock``, their rows
        stay locked until the transaction ends."""
        ids = ",".join(_hex(raw) for _, raw in pairs)
        cur.execute(
            f"SELECT id, lease_token FROM {self.table} WHERE id IN ({ids}) AND state IN {states}"
            + (" FOR UPDATE" if lock else "")
        )
        tokens = {bytes(raw): bytes(token or b"") for raw, token in cur.fetchall()}
        return {
            lease.task_id for lease, raw in pairs
            if tokens.get(raw) == lease.token.encode("utf-8") + stamp
        }

    def leases_extend(self, params: LeaseExtendParams) -> set[str]:
        pairs, _ = self._lease_rows(params.leases)
        if not pairs:
            return set()
        lease = _micros(params.lease_seconds)
        derived = _derived(
            [(_hex(raw), _hex(lease_.token.encode("utf-8"))) for lease_, raw in pairs],
            ("id", "token"),
        )
        sql = (
            f"UPDATE {self.table} AS t JOIN ({derived}) AS v ON t.id = v.id "
            f"SET t.lease_expires_at = {_NOW} + INTERVAL {lease} MICROSECOND "
            "WHERE t.state = 'running' AND t.lease_token = v.token"
        )

        def work(cur: _Session) -> set[str]:
            matched = cur.execute(sql)
            if matched == len(pairs):
                return {lease_.task_id for lease_, _ in pairs}
            return self._held(cur, pairs, "('running')")

        return self._run(work, transaction=False, idempotent=True)

    def tasks_finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        pairs, positions = self._lease_rows(o.lease for o in outcomes)
        if not pairs:
            return [False] * len(outcomes)
        by_id = {o.lease.task_id: o for o in reversed(outcomes)}  # first occurrence wins
        # Successes of delete_on_success tasks: their rows go, so no row is left to tell
        # afterwards whether the lease was held. They are checked and locked first, in the
        # same transaction, and only the held ones deleted.
        deletes = [(lease, raw) for lease, raw in pairs if _deletes(by_id[lease.task_id])]
        if deletes:
            pairs = [(lease, raw) for lease, raw in pairs if not _deletes(by_id[lease.task_id])]
        # A recorded outcome appends this call's stamp to the row's token: so the check
        # below (also when the call runs again after a lost reply) finds the rows this
        # call recorded, and a later outcome sent with the same lease is refused.
        stamp = f"/{new_token()[:12]}".encode()
        stamped = f"lease_token = CONCAT(lease_token, {_hex(stamp)})"
        stamped_t = f"t.lease_token = CONCAT(t.lease_token, {_hex(stamp)})"
        statements: list[str] = []
        # Successes, the bulk of outcomes, need no per-row values: one plain UPDATE fenced
        # per claim (a claim gives its tasks one token).
        by_token: dict[str, list[bytes]] = {}
        for lease, raw in pairs:
            if by_id[lease.task_id].kind is OutcomeKind.SUCCEEDED:
                by_token.setdefault(lease.token, []).append(raw)
        fences = [
            f"(lease_token = {_hex(token.encode('utf-8'))} AND id IN "
            f"({','.join(_hex(raw) for raw in raws)}))"
            for token, raws in by_token.items()
        ]
        statements.extend(
            f"UPDATE {self.table} FORCE INDEX (PRIMARY) SET state = 'succeeded', "
            f"finished_at = {_NOW}, lease_expires_at = NULL, {stamped} "
            f"WHERE state = 'running' AND ({' OR '.join(chunk)})"
            for chunk in self._chunks(fences, "task outcome", str)
        )
        # The others carry an error, a retry time: a derived table of per-row values.
        rows: list[tuple[str, ...]] = []
        for lease, raw in pairs:
            outcome = by_id[lease.task_id]
            if outcome.kind is OutcomeKind.SUCCEEDED:
                continue
            error = "NULL" if outcome.error is None else _quote(outcome.error)
            retry_at = (
                _datetime_literal(outcome.retry_at)
                if outcome.retry_at is not None and outcome.kind is OutcomeKind.RETRY
                else "NULL"
            )
            rows.append((
                _hex(raw), _hex(lease.token.encode("utf-8")), _KINDS[outcome.kind], error,
                retry_at, str(_micros(outcome.retry_delay)),
            ))
        statements.extend(
            f"UPDATE {self.table} AS t JOIN ("
            + _derived(chunk, ("id", "token", "kind", "err", "retry_at", "delay_us"))
            + ") AS v ON t.id = v.id SET "
            "t.state = CASE v.kind WHEN 'f' THEN 'failed' WHEN 'r' THEN 'retrying' "
            "ELSE 'queued' END, "
            f"t.finished_at = IF(v.kind = 'f', {_NOW}, NULL), "
            "t.last_error = IF(v.kind IN ('f','r'), v.err, t.last_error), "
            f"t.run_at = IF(v.kind = 'r', COALESCE(v.retry_at, {_NOW} + INTERVAL "
            # (a zero date that a lax session wrote is refused by ours: write now instead)
            f"v.delay_us MICROSECOND), IF(t.run_at >= '1000-01-01', t.run_at, {_NOW})), "
            "t.attempts = IF(v.kind = 'q', GREATEST(t.attempts - 1, 0), t.attempts), "
            "t.started_at = IF(v.kind = 'q', NULL, t.started_at), "
            "t.worker_id = IF(v.kind = 'q', NULL, t.worker_id), "
            f"t.lease_expires_at = NULL, {stamped_t} "
            "WHERE t.state = 'running' AND t.lease_token = v.token"
            for chunk in self._chunks(rows, "task outcome", ", ".join)
        )
        # One statement of final outcomes needs no transaction: if some lease was lost, the
        # rows it finished keep their state and token for the check below. Requeued rows
        # could be claimed again before that check, so those run in a transaction.
        final_only = all(
            by_id[lease.task_id].kind in (OutcomeKind.SUCCEEDED, OutcomeKind.FAILED)
            for lease, _ in pairs
        )

        def work(cur: _Session) -> set[str]:
            deleted: set[str] = set()
            if deletes:
                deleted = self._held(cur, deletes, "('running')", lock=True)
                gone = [raw for lease, raw in deletes if lease.task_id in deleted]
                if gone:
                    cur.execute(f"DELETE FROM {self.table} WHERE id IN "
                                f"({','.join(_hex(raw) for raw in gone)})")
            matched = 0
            for statement in statements:
                matched += cur.execute(statement)
            if matched == len(pairs):
                return deleted | {lease.task_id for lease, _ in pairs}
            # Which ones: a row this call recorded carries its token and this call's stamp
            # (claims replace it, and every other change clears it), and this
            # transaction holds the rows it changed.
            accepted: set[str] = set()
            for state, kinds in (
                ("('succeeded')", {OutcomeKind.SUCCEEDED}), ("('failed')", {OutcomeKind.FAILED}),
                ("('retrying')", {OutcomeKind.RETRY}), ("('queued')", {OutcomeKind.RELEASED}),
            ):
                group = [(lease, raw) for lease, raw in pairs if by_id[lease.task_id].kind in kinds]
                if group:
                    accepted |= self._held(cur, group, state, stamp)
            return deleted | accepted

        accepted = self._run(
            work, transaction=bool(deletes) or len(statements) > 1 or not final_only,
            idempotent=True,
        )
        if any(o.kind is OutcomeKind.RELEASED for o in outcomes):
            self._notify()
        return [
            index in positions and outcome.lease.task_id in accepted
            for index, outcome in enumerate(outcomes)
        ]

    # ------------------------------------------------------------------ maintenance

    def leases_expired(self, params: LeasesExpiredParams) -> list[ExpiredLease]:
        rows = self._read(
            "SELECT id, lease_token, name, queue, attempts, max_attempts FROM "
            f"{self.table} WHERE state = 'running' AND lease_expires_at < {_NOW} "
            f"ORDER BY lease_expires_at LIMIT {max(0, int(params.limit))}"
        )
        return [expired_lease(_id_str(r[0]), _decode(r[1]) or "", r[2], r[3], r[4], r[5])
                for r in rows]

    def leases_rescue(self, params: LeasesRescueParams) -> list[bool]:
        pairs, positions = self._lease_rows(r.lease for r in params.rescues)
        if not pairs:
            return [False] * len(params.rescues)
        by_id = {r.lease.task_id: r for r in reversed(params.rescues)}  # the first wins
        ids = ",".join(_hex(raw) for _, raw in pairs)
        select = (
            f"SELECT id, lease_token FROM {self.table} WHERE id IN ({ids}) AND "
            f"state = 'running' AND lease_expires_at < {_NOW} FOR UPDATE SKIP LOCKED"
        )

        def work(cur: _Session) -> set[str]:
            cur.execute(select)  # locks the rows the update then changes, and only those
            locked = {(bytes(raw), bytes(token or b"")) for raw, token in cur.fetchall()}
            chosen = [(lease, raw) for lease, raw in pairs
                      if (raw, lease.token.encode("utf-8")) in locked]
            if not chosen:
                return set()
            rows = []
            for lease, raw in chosen:
                rescue = by_id[lease.task_id]
                delay = _micros(rescue.delay) if rescue.kind is RescueKind.REQUEUE else 0
                kind = "'f'" if rescue.kind is RescueKind.FAIL else "'q'"
                rows.append((_hex(raw), _hex(lease.token.encode("utf-8")), kind,
                             _quote(rescue.error), str(delay)))
            cur.execute(
                f"UPDATE {self.table} AS t JOIN ("
                + _derived(rows, ("id", "token", "kind", "err", "delay_us"))
                + ") AS v ON t.id = v.id SET "
                "t.state = IF(v.kind = 'f', 'failed', IF(v.delay_us > 0, 'retrying', "
                "'queued')), "
                f"t.finished_at = IF(v.kind = 'f', {_NOW}, t.finished_at), "
                f"t.run_at = IF(v.kind = 'f', t.run_at, {_NOW} + INTERVAL v.delay_us "
                "MICROSECOND), "
                "t.last_error = v.err, t.lease_token = NULL, t.lease_expires_at = NULL "
                "WHERE t.state = 'running' AND t.lease_token = v.token",
                commit=True,
            )
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
            f"AND run_at <= {_NOW} LIMIT {int(params.limit)}"
        )), transaction=False, idempotent=True)
        if promoted:
            self._notify()
        return promoted

    def tasks_prune(self, params: PruneParams) -> int:
        ages = [(s.value, _micros(float(age))) for s, age in params.older_than.items()
                if s in FINAL_STATES]
        if not ages or params.limit <= 0:
            return 0
        condition = " OR ".join(
            f"(state = %s AND finished_at < {_NOW} - INTERVAL %s MICROSECOND)" for _ in ages)
        return self._write(
            f"DELETE FROM {self.table} WHERE {condition} LIMIT {int(params.limit)}",
            [x for age in ages for x in age],
        )

    def leader_try(self, params: LeaderParams) -> bool:
        until = f"{_NOW} + INTERVAL {_micros(params.ttl)} MICROSECOND"

        def work(cur: _Session) -> bool:
            if cur.execute(
                f"UPDATE {self.leaders_table} SET holder = %s, expires_at = {until} "
                f"WHERE name = %s AND (holder = %s OR expires_at <= {_NOW})",
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
        newest = self._newest_id if self._wake_interval > 0 else None
        listener = _PollingListener(newest, self._wake_interval)
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

    # ------------------------------------------------------------------ inspection

    def _where_filter(self, task_filter: TaskFilter) -> tuple[str, list[Any]]:
        """The WHERE clause (without the keyword) and its parameters for a filter."""
        clauses: list[str] = []
        args: list[Any] = []
        if task_filter.ids is not None:
            raws = [r for r in (_id_bytes(i) for i in task_filter.ids) if r is not None]
            clauses.append(f"id IN ({','.join(_hex(r) for r in raws)})" if raws else "FALSE")
        for column, values in (
            ("state", task_filter.states), ("queue", task_filter.queues),
            ("name", task_filter.names),
        ):
            if values is not None:
                clauses.append(f"{column} IN ({_marks(values)})" if values else "FALSE")
                args.extend(str(v) for v in values)
        if task_filter.finished_before is not None:
            clauses.append(
                f"state IN {_FINAL} AND finished_at < {_NOW} - INTERVAL "
                f"{_micros(task_filter.finished_before)} MICROSECOND"
            )
        return (" AND ".join(clauses) or "TRUE"), args

    def tasks_get(self, task_id: str) -> StoredTask | CorruptTask | None:
        raw = _id_bytes(task_id)
        if raw is None:
            return None
        rows = self._read(f"SELECT {_COLUMNS} FROM {self.table} WHERE id = {_hex(raw)}")
        return _read_row(rows[0]) if rows else None

    def tasks_list(self, params: ListParams) -> list[StoredTask | CorruptTask]:
        where, args = self._where_filter(params.filter)
        if params.before_id is not None:
            raw = _id_bytes(params.before_id)
            if raw is None:
                raise ConfigurationError(
                    f"before={params.before_id!r} is not a task id; pass the id of the last "
                    "task of the previous page"
                )
            where += f" AND id < {_hex(raw)}"
        columns = _COLUMNS if params.with_payload else _COLUMNS_WITHOUT_PAYLOAD
        rows = self._read(
            f"SELECT {columns} FROM {self.table} WHERE {where} ORDER BY id DESC "
            f"LIMIT {max(0, int(params.limit))}",
            args,
        )
        return [_read_row(row) for row in rows]

    def tasks_count(self, task_filter: TaskFilter) -> int:
        where, args = self._where_filter(task_filter)
        return int(self._read(f"SELECT COUNT(*) FROM {self.table} WHERE {where}", args)[0][0])

    def tasks_stats(self) -> dict[tuple[str, State], int]:
        rows = self._read(
            f"SELECT queue, state, COUNT(*) FROM {self.table} GROUP BY queue, state"
        )
        return state_counts(rows)

    def tasks_count_by_name(self, params: CountByNameParams) -> dict[str, int]:
        states = [str(s) for s in params.states]
        if not states:
            return {}
        rows = self._read(
            f"SELECT name, COUNT(*) FROM {self.table} WHERE state IN "
            f"({', '.join(['%s'] * len(states))}) GROUP BY name", states)
        return {name: int(count) for name, count in rows}

    # ------------------------------------------------------------------ operators

    def _write(self, sql: str, args: Sequence[Any]) -> int:
        def work(cur: _Session) -> int:
            return int(cur.execute(sql, args))

        return self._run(work, transaction=False, idempotent=False)

    def tasks_retry(self, task_filter: TaskFilter) -> int:
        where, args = self._where_filter(task_filter)
        # IGNORE skips a row whose unique key another live task holds by now
        count = self._write(
            f"UPDATE IGNORE {self.table} SET state = 'queued', attempts = 0, run_at = {_NOW}, "
            "finished_at = NULL, started_at = NULL, lease_token = NULL, "
            "lease_expires_at = NULL "
            f"WHERE state IN ('failed','cancelled','retrying','scheduled') AND {where}",
            args,
        )
        if count:
            self._notify()
        return count

    def tasks_cancel(self, task_filter: TaskFilter) -> int:
        where, args = self._where_filter(task_filter)
        return self._write(
            f"UPDATE {self.table} SET state = 'cancelled', finished_at = {_NOW}, "
            f"lease_token = NULL, lease_expires_at = NULL WHERE state IN {_LIVE} AND {where}",
            args,
        )

    def _delete_batches(self, where: str, args: Sequence[Any]) -> int:
        total = 0
        while True:
            deleted = self._write(
                f"DELETE FROM {self.table} WHERE {where} LIMIT {_DELETE_BATCH}", args
            )
            total += deleted
            if deleted < _DELETE_BATCH:
                return total

    def tasks_delete(self, task_filter: TaskFilter) -> int:
        where, args = self._where_filter(task_filter)
        return self._delete_batches(where, args)


def _marks(values: Sequence[Any]) -> str:
    return ",".join(["%s"] * len(values))


def _derived(rows: Sequence[Sequence[str]], names: Sequence[str]) -> str:
    """A derived table of SQL values, one SELECT per row; the first names the columns."""
    first = ", ".join(f"{value} AS {name}" for value, name in zip(rows[0], names, strict=True))
    return " UNION ALL ".join([f"SELECT {first}", *(f"SELECT {', '.join(r)}" for r in rows[1:])])


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "MySQLBackend"]
