"""PostgreSQL: the main multi-host store. Many workers on many hosts share one database.

Everything lives in one schema (``?schema=`` in the URL, default ``taskbasket``), created
and upgraded by versioned migrations under an advisory lock, so many workers starting at
once are safe. The server's clock (``now()``) drives leases and schedules.

Hot paths take one round trip each: a claim is ``UPDATE ... FROM (SELECT ... FOR UPDATE
SKIP LOCKED LIMIT n)`` walking a partial index of pending tasks, so its cost does not grow
with finished rows (it lives in the ``claim()`` function of the schema, whose settings pin
that plan); heartbeats and outcomes are recorded for a whole batch with ``unnest``; an
insert is one statement that also queues a ``NOTIFY``, delivered when it commits. Idle
workers ``LISTEN`` on a dedicated connection.

Connections come from a ``psycopg_pool.ConnectionPool`` opened on first use. A connection
that the server dropped (restart, ``pg_terminate_backend``) is noticed without a round trip
before it is handed out; during an outage operations raise ``psycopg.OperationalError``
(the worker retries with backoff) and they work again once the server is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import functools
import hashlib
import math
import os
import re
import select
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow, tuple_row
from psycopg_pool import ConnectionPool

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
from taskbasket.redaction import redact_text
from taskbasket.task import FINAL_STATES, CorruptTask, State, TaskRef

Connection = psycopg.Connection[TupleRow]

DEFAULT_SCHEMA = "taskbasket"
_PENDING = "('queued','scheduled','retrying')"
_FINAL = "('succeeded','failed','cancelled')"
_RETRYABLE = "('failed','cancelled','retrying','scheduled')"
_COLUMNS = (
    "id::text, name, queue, state, payload, priority, attempts, max_attempts, timeout, "
    "unique_key, last_error, created_at, run_at, started_at, finished_at, lease_expires_at, "
    "worker_id"
)
_COLUMNS_WITHOUT_PAYLOAD = columns_without_payload(_COLUMNS)
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# Each entry upgrades the schema by one version; never edit one that has shipped. ``{s}``
# is the quoted schema name.
MIGRATIONS: tuple[str, ...] = (
    f"""
    CREATE TABLE {{s}}.tasks (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        queue text NOT NULL,
        state text NOT NULL CONSTRAINT tasks_state_check CHECK (state IN
            ('queued','scheduled','running','retrying','succeeded','failed','cancelled')),
        payload text NOT NULL,
        priority integer NOT NULL DEFAULT 0,
        attempts integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL,
        timeout double precision NOT NULL,
        unique_key text,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        run_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        lease_expires_at timestamptz,
        lease_token text,
        worker_id text
    ) WITH (
        -- a queue table churns: vacuum it after 1% of its rows changed, not the default 20%
        autovacuum_vacuum_scale_factor = 0.01,
        autovacuum_vacuum_threshold = 1000,
        autovacuum_vacuum_insert_scale_factor = 0.05,
        autovacuum_analyze_scale_factor = 0.02,
        autovacuum_vacuum_cost_delay = 1
    );
    -- claims walk this in claim order; it holds pending tasks only, so its size and the
    -- claim's cost do not grow with finished tasks
    CREATE INDEX tasks_ready ON {{s}}.tasks (priority DESC, run_at, id)
        WHERE state IN {_PENDING};
    CREATE INDEX tasks_due ON {{s}}.tasks (run_at) WHERE state IN ('scheduled','retrying');
    CREATE INDEX tasks_leases ON {{s}}.tasks (lease_expires_at) WHERE state = 'running';
    CREATE UNIQUE INDEX tasks_unique ON {{s}}.tasks (unique_key)
        WHERE unique_key IS NOT NULL AND state NOT IN {_FINAL};
    CREATE INDEX tasks_finished ON {{s}}.tasks (finished_at) WHERE finished_at IS NOT NULL;
    -- the inspector's counts of final tasks; partial, so no claim ever plans on it or
    -- updates it (pending and running tasks are counted through the two indexes above)
    CREATE INDEX tasks_final ON {{s}}.tasks (state, queue, name) WHERE state IN {_FINAL};
    -- The claim, planned with sorting and sequential scans disabled (like SQLite's
    -- INDEXED BY): its only plan walks tasks_ready in claim order, stops after p_limit
    -- rows, and updates them through the primary key. Left to itself, the planner sorts
    -- every pending task whenever the statistics say there are few of them, which is
    -- always the case in a table of mostly finished tasks; and a cached plan made while
    -- the table was small would keep scanning it whole as it grows.
    CREATE FUNCTION {{s}}.claim(p_token text, p_lease_seconds double precision,
                                p_worker text, p_names text[], p_queues text[],
                                p_limit integer)
    RETURNS TABLE (id uuid, name text, queue text, payload text, priority integer,
                   attempts integer, max_attempts integer, timeout double precision,
                   created_at timestamptz, run_at timestamptz, unique_key text)
    LANGUAGE plpgsql VOLATILE ROWS 10
    SET enable_sort = off SET enable_seqscan = off AS $$
    #variable_conflict use_column
    BEGIN
        RETURN QUERY
        WITH ready AS (
            SELECT r.id FROM {{s}}.tasks r
            WHERE r.state IN {_PENDING} AND r.run_at <= now()
              AND r.name = ANY(p_names) AND (p_queues IS NULL OR r.queue = ANY(p_queues))
            ORDER BY r.priority DESC, r.run_at, r.id
            LIMIT p_limit FOR UPDATE OF r SKIP LOCKED
        ), claimed AS (
            UPDATE {{s}}.tasks t SET state = 'running', attempts = t.attempts + 1,
                lease_token = p_token,
                lease_expires_at = now() + p_lease_seconds * interval '1 second',
                started_at = now(), worker_id = p_worker
            FROM ready WHERE t.id = ready.id
            RETURNING t.id, t.name, t.queue, t.payload, t.priority, t.attempts,
                      t.max_attempts, t.timeout, t.created_at, t.run_at, t.unique_key
        )
        SELECT * FROM claimed;
    END
    $$;
    """,
    # 2: claim() takes any name when p_names is NULL, and counts an attempt only when
    # p_count is 1 (the outbox relay's claims move tasks without running them)
    f"""
    DROP FUNCTION {{s}}.claim(text, double precision, text, text[], text[], integer);
    CREATE FUNCTION {{s}}.claim(p_token text, p_lease_seconds double precision,
                                p_worker text, p_names text[], p_queues text[],
                                p_limit integer, p_count integer)
    RETURNS TABLE (id uuid, name text, queue text, payload text, priority integer,
                   attempts integer, max_attempts integer, timeout double precision,
                   created_at timestamptz, run_at timestamptz, unique_key text)
    LANGUAGE plpgsql VOLATILE ROWS 10
    SET enable_sort = off SET enable_seqscan = off AS $$
    #variable_conflict use_column
    BEGIN
        RETURN QUERY
        WITH ready AS (
            SELECT r.id FROM {{s}}.tasks r
            WHERE r.state IN {_PENDING} AND r.run_at <= now()
              AND (p_names IS NULL OR r.name = ANY(p_names))
              AND (p_queues IS NULL OR r.queue = ANY(p_queues))
            ORDER BY r.priority DESC, r.run_at, r.id
            LIMIT p_limit FOR UPDATE OF r SKIP LOCKED
        ), claimed AS (
            UPDATE {{s}}.tasks t SET state = 'running', attempts = t.attempts + p_count,
                lease_token = p_token,
                lease_expires_at = now() + p_lease_seconds * interval '1 second',
                started_at = now(), worker_id = p_worker
            FROM ready WHERE t.id = ready.id
            RETURNING t.id, t.name, t.queue, t.payload, t.priority, t.attempts,
                      t.max_attempts, t.timeout, t.created_at, t.run_at, t.unique_key
        )
        SELECT * FROM claimed;
    END
    $$;
    """,
    # 3: terms of leadership (see LeaderLock)
    """
    CREATE TABLE {s}.leaders (
        name text PRIMARY KEY,
        holder text NOT NULL,
        expires_at timestamptz NOT NULL
    );
    """,
    # 4: claims in enqueue order (ClaimOrder.CREATED) walk an index of pending tasks by
    # id, through a function of their own, planned like claim()
    f"""
    CREATE INDEX tasks_ready_created ON {{s}}.tasks (id) WHERE state IN {_PENDING};
    CREATE FUNCTION {{s}}.claim_created(p_token text, p_lease_seconds double precision,
                                        p_worker text, p_names text[], p_queues text[],
                                        p_limit integer, p_count integer)
    RETURNS TABLE (id uuid, name text, queue text, payload text, priority integer,
                   attempts integer, max_attempts integer, timeout double precision,
                   created_at timestamptz, run_at timestamptz, unique_key text)
    LANGUAGE plpgsql VOLATILE ROWS 10
    SET enable_sort = off SET enable_seqscan = off AS $$
    #variable_conflict use_column
    BEGIN
        RETURN QUERY
        WITH ready AS (
            SELECT r.id FROM {{s}}.tasks r
            WHERE r.state IN {_PENDING} AND r.run_at <= now()
              AND (p_names IS NULL OR r.name = ANY(p_names))
              AND (p_queues IS NULL OR r.queue = ANY(p_queues))
            ORDER BY r.id
            LIMIT p_limit FOR UPDATE OF r SKIP LOCKED
        ), claimed AS (
            UPDATE {{s}}.tasks t SET state = 'running', attempts = t.attempts + p_count,
                lease_token = p_token,
                lease_expires_at = now() + p_lease_seconds * interval '1 second',
                started_at = now(), worker_id = p_worker
            FROM ready WHERE t.id = ready.id
            RETURNING t.id, t.name, t.queue, t.payload, t.priority, t.attempts,
                      t.max_attempts, t.timeout, t.created_at, t.run_at, t.unique_key
        )
        SELECT * FROM claimed;
    END
    $$;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

# Options of ours in the URL's query string or as keyword arguments; the rest of the query
# string goes to libpq.
_OPTIONS = ("schema", "pool_min_size", "pool_max_size", "pool_timeout")
_MAX_FIND_TRIES = 5
# Batches at least this big (without unique keys) are written with COPY: about three times
# faster than one INSERT of arrays, for a few more round trips.
COPY_THRESHOLD = 200


# --------------------------------------------------------------------------- helpers


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _row_to_stored(row: Sequence[Any]) -> StoredTask:
    return StoredTask(
        id=row[0], name=row[1], queue=row[2], state=stored_state(row[0], row[3]),
        payload=row[4],
        priority=row[5], attempts=row[6], max_attempts=row[7], timeout=row[8],
        unique_key=row[9], last_error=row[10], created_at=lenient(_utc, row[11]),
        run_at=lenient(_utc, row[12]), started_at=lenient(_utc, row[13]),
        finished_at=lenient(_utc, row[14]), lease_expires_at=lenient(_utc, row[15]),
        worker_id=row[16],
    )


def _read_row(row: Sequence[Any]) -> StoredTask | CorruptTask:
    return stored_or_corrupt(row[0], lambda: _row_to_stored(row))


def _claimed(row: Sequence[Any], token: str) -> ClaimedTask:
    return ClaimedTask(
        id=row[0], name=row[1], queue=row[2], payload=row[3], priority=row[4],
        attempts=row[5], max_attempts=row[6], timeout=row[7], lease_token=token,
        created_at=lenient(_utc, row[8]), run_at=lenient(_utc, row[9]), unique_key=row[10],
    )


class _LenientTimestamptzLoader(psycopg.adapt.Loader):
    """psycopg's timestamptz loader, except that a time Python cannot hold ('infinity',
    years past 9999: a row not written by taskbasket) loads as its text, so that only its
    row is corrupt (``backends/rows``) instead of the whole query failing."""

    def __init__(self, oid: int, context: psycopg.abc.AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        loader = psycopg.adapters.get_loader(oid, psycopg.pq.Format.TEXT)
        assert loader is not None
        self._load = loader(oid, context).load

    def load(self, data: psycopg.abc.Buffer) -> Any:
        try:
            return self._load(data)
        except psycopg.DataError:
            return bytes(data).decode("utf-8", "replace")


def _configure(conn: Connection) -> None:
    conn.adapters.register_loader("timestamptz", _LenientTimestamptzLoader)


_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)


def _deletes(outcome: Outcome) -> bool:
    """Whether recording ``outcome`` deletes its task (a success of delete_on_success)."""
    return outcome.kind is OutcomeKind.SUCCEEDED and outcome.delete_on_success


def _is_uuid(value: object) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def _valid_uuids(values: Sequence[str]) -> list[str]:
    """The values that are UUIDs; other strings cannot name a stored task."""
    return [value for value in values if _is_uuid(value)]


def _where(task_filter: TaskFilter) -> tuple[str, list[Any]]:
    """The WHERE clause (without the keyword) and its parameters for a filter."""
    clauses: list[str] = []
    params: list[Any] = []
    if task_filter.ids is not None:
        ids = _valid_uuids(task_filter.ids)
        clauses.append("id = ANY(%s::uuid[])" if ids else "false")
        if ids:
            params.append(ids)
    for column, values in (
        ("state", task_filter.states), ("queue", task_filter.queues),
        ("name", task_filter.names),
    ):
        if values is not None:
            clauses.append(f"{column} = ANY(%s::text[])" if values else "false")
            if values:
                params.append([str(v) for v in values])
    if task_filter.finished_before is not None:
        clauses.append(
            f"state IN {_FINAL} AND finished_at < now() - %s::float8 * interval '1 second'"
        )
        params.append(float(task_filter.finished_before))
    return (" AND ".join(clauses) or "true"), params


def _wait_readable(fds: Sequence[int], timeout: float) -> set[int]:
    """The fds among ``fds`` that are readable (or closed) within ``timeout`` seconds."""
    timeout = max(0.0, timeout)
    if hasattr(select, "poll"):
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        return {fd for fd, _ in poller.poll(math.ceil(timeout * 1000))}
    readable, _, _ = select.select(list(fds), [], [], timeout)
    return set(readable)


def _dropped(conn: Connection) -> bool:
    """True if the server closed this idle connection; costs a poll(), no round trip.

    A server that restarts or runs ``pg_terminate_backend`` sends its goodbye and closes
    the socket. An idle pooled connection has nothing to read otherwise (it LISTENs to
    nothing), so one with something to read is given up: at worst a rare notice or
    parameter report costs a reconnection.
    """
    if conn.closed or conn.broken or conn.pgconn.status != psycopg.pq.ConnStatus.OK:
        return True
    try:
        return bool(_wait_readable([conn.pgconn.socket], 0))
    except (psycopg.Error, OSError, ValueError):
        return True


def _as_float(name: str, value: Any, minimum: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number < minimum:
        raise ConfigurationError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    return number


def _as_int(name: str, value: Any, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be an integer, got {value!r}") from None
    if isinstance(value, bool) or number < minimum or str(number) != str(value).strip():
        raise ConfigurationError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return number


# --------------------------------------------------------------------------- inserts


@dataclass
class _InsertRun:
    """One ``tasks_insert``: the statements to run and what their rows mean.

    Driven by a sync or an async connection alike: ``query()`` gives the next statement
    (None when done), ``feed(rows)`` takes its rows. Tasks with unique keys are inserted
    with ``ON CONFLICT DO NOTHING``; one that conflicted returns the holder of its key.
    If the holder became final in between (it is then not found), the task is tried again.
    """

    backend: PostgresBackend
    tasks: Sequence[NewTask]
    refs: list[TaskRef | None] = field(default_factory=list)
    tries: int = 0

    def __post_init__(self) -> None:
        self.refs = [None] * len(self.tasks)
        self.unique = any(t.unique_key is not None for t in self.tasks)

    def _todo(self) -> list[int]:
        return [i for i, ref in enumerate(self.refs) if ref is None]

    def query(self) -> tuple[str, list[Any]] | None:
        todo = self._todo()
        if not todo:
            return None
        self.tries += 1
        if self.tries > _MAX_FIND_TRIES:
            raise BackendUnavailableError(
                f"could not insert or find the holder of unique keys after "
                f"{_MAX_FIND_TRIES} tries; other clients keep finishing and re-adding them"
            )
        tasks = [self.tasks[i] for i in todo]
        b = self.backend
        if not self.unique and len(tasks) == 1:
            t = tasks[0]
            return b._sql_insert_one, [
                t.id, t.name, t.queue, t.payload, t.priority, t.max_attempts,
                float(t.timeout), None, float(t.delay), t.run_at, b.channel,
            ]
        params: list[Any] = [
            [t.id for t in tasks], [t.name for t in tasks], [t.queue for t in tasks],
            [t.payload for t in tasks], [t.priority for t in tasks],
            [t.max_attempts for t in tasks], [float(t.timeout) for t in tasks],
            [t.unique_key for t in tasks], [float(t.delay) for t in tasks],
            [t.run_at for t in tasks],
        ]
        if not self.unique:
            return b._sql_insert_plain, [*params, b.channel]
        keys = sorted({t.unique_key for t in tasks if t.unique_key is not None})
        return b._sql_insert_unique, [*params, b.channel, keys]

    def feed(self, rows: Sequence[Sequence[Any]]) -> None:
        todo = self._todo()
        if not self.unique:
            for i in todo:
                self.refs[i] = TaskRef(self.tasks[i].id, True)
            return
        created = {str(row[0]) for row in rows if row[2]}
        holders = {row[1]: str(row[0]) for row in rows if row[1] is not None}
        for i in todo:
            task = self.tasks[i]
            if str(uuid.UUID(task.id)) in created:
                self.refs[i] = TaskRef(task.id, True)
            elif task.unique_key is not None and task.unique_key in holders:
                self.refs[i] = TaskRef(holders[task.unique_key], False)

    def result(self) -> list[TaskRef]:
        return [ref for ref in self.refs if ref is not None]


def _wrong_connection(connection: Any, expected: str) -> ConfigurationError:
    return ConfigurationError(
        f"connection= must be a {expected} (psycopg 3) for the PostgreSQL store, or a "
        f"SQLAlchemy Session/Connection (AsyncSession/AsyncConnection with enqueue_async) "
        f"on the postgresql+psycopg driver; got "
        f"{type(connection).__module__}.{type(connection).__name__}"
    )


# --------------------------------------------------------------------------- backend


class PostgresBackend(BackendBase):
    """A store in one schema of a PostgreSQL database; thread-safe, pooled connections.

    URL: ``postgresql://user:password@host:port/db?schema=taskbasket``. Our options
    (``schema``, ``pool_min_size`` (2), ``pool_max_size`` (10), ``pool_timeout`` (10 s, the
    longest an operation waits for a free connection)) may be given in the query string or
    as keyword arguments; every other query parameter (``sslmode``, ``connect_timeout``,
    ``application_name`` ...) goes to libpq.
    """

    capabilities = Capabilities(
        transactional_enqueue=True, server_clock=True, notifications=True, multi_host=True,
        leader_lock=True,
        created_order=True,
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
        self.url = url
        parts = urlsplit(url)
        scheme = parts.scheme.lower().split("+", 1)[0]
        if scheme not in ("postgresql", "postgres"):
            raise ConfigurationError(f"not a PostgreSQL URL: {redact_url(url)!r}")
        query = parse_qsl(parts.query, keep_blank_values=True)
        ours = {k: v for k, v in query if k in _OPTIONS}
        rest = [(k, v) for k, v in query if k not in _OPTIONS]
        unknown = [k for k in options if k not in _OPTIONS]
        if unknown:
            hints = [
                f"{k!r} (did you mean {close[0]!r}?)" if (
                    close := difflib.get_close_matches(k, _OPTIONS, n=1)
                ) else repr(k)
                for k in unknown
            ]
            raise ConfigurationError(
                f"unknown PostgreSQL store option(s) {', '.join(hints)}; the options are "
                f"{', '.join(_OPTIONS)}; libpq settings go in the URL's query string"
            )
        ours.update({k: v for k, v in options.items() if v is not None})

        schema = str(ours.get("schema", DEFAULT_SCHEMA))
        if not _SCHEMA_NAME.match(schema):
            raise ConfigurationError(
                f"schema={schema!r} is not a plain identifier: use letters, "
                "digits and underscores (at most 63, not starting with a digit), "
                "e.g. ?schema=taskbasket"
            )
        self.schema = schema
        self.pool_min_size = _as_int("pool_min_size", ours.get("pool_min_size", 2), 0)
        self.pool_max_size = _as_int("pool_max_size", ours.get("pool_max_size", 10), 1)
        if self.pool_max_size < max(1, self.pool_min_size):
            raise ConfigurationError(
                f"pool_max_size ({self.pool_max_size}) must be >= pool_min_size "
                f"({self.pool_min_size}) and >= 1"
            )
        self.pool_timeout = _as_float("pool_timeout", ours.get("pool_timeout", 10.0), 0.001)

        self.conninfo = urlunsplit(
            ("postgresql", parts.netloc, parts.path, urlencode(rest), parts.fragment)
        )
        libpq = {o.keyword.decode() for o in psycopg.pq.Conninfo.get_defaults()}
        strangers = [k for k, _ in rest if k not in libpq]
        if strangers:
            hints = [
                f"{k!r} (did you mean {close[0]!r}?)" if (
                    close := difflib.get_close_matches(k, [*_OPTIONS, *sorted(libpq)], n=1)
                ) else repr(k)
                for k in strangers
            ]
            raise ConfigurationError(
                f"unknown option(s) {', '.join(hints)} in PostgreSQL URL {redact_url(url)!r}; "
                f"taskbasket's own are {', '.join(_OPTIONS)}, the others must be libpq "
                "connection parameters (sslmode, connect_timeout, application_name, ...)"
            )
        try:
            params = conninfo_to_dict(self.conninfo)
        except psycopg.ProgrammingError as exc:
            raise ConfigurationError(
                f"PostgreSQL URL {redact_url(url)!r} is not valid: "
                f"{redact_text(str(exc).strip(), url)}"  # libpq may quote the password
            ) from None
        self._params = params
        self.connect_kwargs: dict[str, Any] = {"autocommit": True}
        # (parameter, default, the environment variable that libpq would read instead)
        defaults = (
            ("connect_timeout", "10", "PGCONNECT_TIMEOUT"),
            ("application_name", "taskbasket", "PGAPPNAME"),
            # notice a silently dead peer (a LISTEN connection waits on it for ever)
            ("keepalives", "1", None), ("keepalives_idle", "30", None),
            ("keepalives_interval", "10", None), ("keepalives_count", "3", None),
        )
        for key, value, variable in defaults:
            if key not in params and (variable is None or variable not in os.environ):
                self.connect_kwargs[key] = value

        quoted = sql.Identifier(schema).as_string(None)
        self.table = f"{quoted}.tasks"
        self.channel = f"taskbasket.{schema}"
        if len(self.channel.encode()) > 63:
            digest = hashlib.sha1(schema.encode()).hexdigest()[:20]
            self.channel = f"taskbasket.{digest}"
        self._quoted_schema = quoted
        self._build_sql()

        self._lock = threading.Lock()
        self._pool: ConnectionPool[Connection] | None = None
        self._pool_pid = 0
        self._migrated = False
        self._listeners: list[PostgresListener] = []

    def __repr__(self) -> str:
        return f"<PostgresBackend {self.describe()} schema={self.schema}>"

    def describe(self) -> str:
        """host:port/db (user), for messages; never the password."""
        host = self._params.get("host") or os.environ.get("PGHOST") or "localhost"
        port = self._params.get("port") or os.environ.get("PGPORT") or "5432"
        db = self._params.get("dbname") or os.environ.get("PGDATABASE") or "(default)"
        user = self._params.get("user") or os.environ.get("PGUSER") or "(default)"
        return f"{host}:{port}/{db} as user {user}"

    # ------------------------------------------------------------------ SQL

    def _build_sql(self) -> None:
        t = self.table
        unnest_new = (
            # binary parameters: no escaping of 50,000 JSON payloads into array literals
            "unnest(%b::uuid[], %b::text[], %b::text[], %b::text[], %b::int[], %b::int[], "
            "%b::float8[], %b::text[], %b::float8[], %b::timestamptz[])"
        )
        new_columns = (
            "id, name, queue, payload, priority, max_attempts, timeout, unique_key, delay, "
            "run_at"
        )
        insert_head = (
            f"INSERT INTO {t} (id, name, queue, state, payload, priority, max_attempts, "
            "timeout, unique_key, created_at, run_at) "
            "SELECT id, name, queue, CASE WHEN due <= now() THEN 'queued' ELSE 'scheduled' "
            "END, payload, priority, max_attempts, timeout, unique_key, now(), due "
        )
        due = "coalesce(u.run_at, now() + u.delay * interval '1 second') AS due"
        notify_inserted = (
            "SELECT count(pg_notify(%s, q)) FROM "
            "(SELECT DISTINCT queue AS q FROM ins WHERE state = 'queued') d"
        )
        self._sql_insert_plain = (
            f"WITH ins AS ({insert_head}"
            f"FROM (SELECT u.*, {due} FROM {unnest_new} AS u({new_columns})) s "
            "RETURNING queue, state) "
            f"{notify_inserted}"
        )
        self._sql_copy = (
            f"COPY {t} (id, name, queue, state, payload, priority, max_attempts, timeout, "
            "created_at, run_at) FROM STDIN"
        )
        # one task: plain parameters, cheaper to send than ten one-element arrays
        one_new = (
            "(SELECT %s::uuid, %s::text, %s::text, %s::text, %s::int, %s::int, %s::float8, "
            "%s::text, %s::float8, %s::timestamptz)"
        )
        self._sql_insert_one = (
            f"WITH ins AS ({insert_head}"
            f"FROM (SELECT u.*, {due} FROM {one_new} AS u({new_columns})) s "
            "RETURNING queue, state) "
            f"{notify_inserted}"
        )
        self._sql_insert_unique = (
            f"WITH ins AS ({insert_head}"
            f"FROM (SELECT u.*, {due} FROM {unnest_new} WITH ORDINALITY "
            f"AS u({new_columns}, ord)) s ORDER BY ord "
            f"ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state NOT IN {_FINAL} "
            "DO NOTHING RETURNING id, unique_key, queue, state), "
            f"notified AS ({notify_inserted}) "
            "SELECT id::text, unique_key, true, (SELECT count FROM notified) FROM ins "
            "UNION ALL "
            f"SELECT id::text, unique_key, false, NULL FROM {t} "
            f"WHERE unique_key = ANY(%b::text[]) AND state NOT IN {_FINAL}"
        )
        # one round trip; the statement itself is in the migration (see there why)
        self._sql_claim = (
            "SELECT id::text, name, queue, payload, priority, attempts, max_attempts, timeout, "
            f"created_at, run_at, unique_key FROM {self._quoted_schema}.claim("
            "%s, %s::float8, %s, %s::text[], %s::text[], %s::int, %s::int)"
        )
        self._sql_claim_created = self._sql_claim.replace(".claim(", ".claim_created(")
        self._sql_extend = (
            f"UPDATE {t} t SET lease_expires_at = now() + %s::float8 * interval '1 second' "
            "FROM unnest(%b::uuid[], %b::text[]) AS l(id, token) "
            "WHERE t.id = l.id AND t.lease_token = l.token AND t.state = 'running' "
            "RETURNING t.id::text"
        )
        finish_update = (
            f"UPDATE {t} t SET "
            "state = CASE o.kind WHEN 'succeeded' THEN 'succeeded' WHEN 'failed' THEN 'failed' "
            "WHEN 'retry' THEN 'retrying' ELSE 'queued' END, "
            "finished_at = CASE WHEN o.kind IN ('succeeded', 'failed') THEN now() "
            "ELSE t.finished_at END, "
            "last_error = CASE WHEN o.kind IN ('failed', 'retry') THEN o.error "
            "ELSE t.last_error END, "
            "run_at = CASE WHEN o.kind = 'retry' THEN coalesce(o.retry_at, "
            "now() + o.retry_delay * interval '1 second') ELSE t.run_at END, "
            "attempts = CASE WHEN o.kind = 'released' THEN greatest(t.attempts - 1, 0) "
            "ELSE t.attempts END, "
            "started_at = CASE WHEN o.kind = 'released' THEN NULL ELSE t.started_at END, "
            "worker_id = CASE WHEN o.kind = 'released' THEN NULL ELSE t.worker_id END, "
            "lease_token = NULL, lease_expires_at = NULL "
            "FROM unnest(%b::int[], %b::uuid[], %b::text[], %b::text[], %b::text[], "
            "%b::float8[], %b::timestamptz[]) "
            "AS o(ord, id, token, kind, error, retry_delay, retry_at) "
            "WHERE t.id = o.id AND t.lease_token = o.token AND t.state = 'running' "
        )
        self._sql_finish = finish_update + "RETURNING o.ord"
        # a success of a delete_on_success task: the row goes, fenced like an update
        self._sql_finish_delete = (
            f"DELETE FROM {t} t USING unnest(%b::int[], %b::uuid[], %b::text[]) "
            "AS o(ord, id, token) "
            "WHERE t.id = o.id AND t.lease_token = o.token AND t.state = 'running' "
            "RETURNING o.ord"
        )
        self._sql_finish_notify = (
            f"WITH done AS ({finish_update} RETURNING o.ord, t.queue, t.state) "
            "SELECT ord, (SELECT count(pg_notify(%s, q)) FROM "
            "(SELECT DISTINCT queue AS q FROM done WHERE state = 'queued') d) FROM done"
        )
        # maintenance: each one round trip, walking a partial index, so a run that finds
        # nothing to do costs one index probe
        self._sql_promote = (
            f"WITH promoted AS (UPDATE {t} SET state = 'queued' WHERE id IN "
            f"(SELECT id FROM {t} WHERE state IN ('scheduled','retrying') AND run_at <= now() "
            "ORDER BY run_at LIMIT %s FOR UPDATE SKIP LOCKED) "
            "AND state IN ('scheduled','retrying') RETURNING queue) "
            "SELECT (SELECT count(*) FROM promoted)::int, (SELECT count(pg_notify(%s, q)) "
            "FROM (SELECT DISTINCT queue AS q FROM promoted) d)"
        )
        self._sql_expired = (
            f"SELECT id::text, lease_token, name, queue, attempts, max_attempts FROM {t} "
            "WHERE state = 'running' AND lease_expires_at < now() "
            "ORDER BY lease_expires_at LIMIT %s"
        )
        self._sql_rescue = (
            f"WITH r AS (UPDATE {t} t SET "
            "state = CASE WHEN u.kind = 'fail' THEN 'failed' WHEN u.delay > 0 THEN 'retrying' "
            "ELSE 'queued' END, "
            "finished_at = CASE WHEN u.kind = 'fail' THEN now() ELSE t.finished_at END, "
            "run_at = CASE WHEN u.kind = 'fail' THEN t.run_at "
            "ELSE now() + greatest(u.delay, 0) * interval '1 second' END, "
            "last_error = u.error, lease_token = NULL, lease_expires_at = NULL "
            "FROM unnest(%b::int[], %b::uuid[], %b::text[], %b::text[], %b::text[], "
            "%b::float8[]) AS u(ord, id, token, kind, error, delay) "
            "WHERE t.id = u.id AND t.lease_token = u.token AND t.state = 'running' "
            "AND t.lease_expires_at < now() RETURNING u.ord, t.state, t.queue) "
            "SELECT ord, (SELECT count(pg_notify(%s, q)) FROM "
            "(SELECT DISTINCT queue AS q FROM r WHERE state = 'queued') d) FROM r"
        )
        self._sql_leader_try = (
            f"INSERT INTO {self._quoted_schema}.leaders AS l (name, holder, expires_at) "
            "VALUES (%s, %s, now() + %s::float8 * interval '1 second') "
            "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, "
            "expires_at = EXCLUDED.expires_at "
            "WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now() RETURNING 1"
        )

    # ------------------------------------------------------------------ connections

    def _connect_direct(self) -> Connection:
        """A connection outside the pool; a clear error if the server cannot be reached."""
        try:
            return psycopg.connect(self.conninfo, **self.connect_kwargs)
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise BackendUnavailableError(
                f"cannot connect to PostgreSQL at {self.describe()}: {reason}. Is the server "
                "running and reachable there? Check the URL (host, port, database, user, "
                "password), the server's listen_addresses and pg_hba.conf"
            ) from exc

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
                self._pool = ConnectionPool(
                    self.conninfo, kwargs=dict(self.connect_kwargs),
                    min_size=self.pool_min_size, max_size=self.pool_max_size,
                    timeout=self.pool_timeout, name=f"taskbasket-{self.schema}",
                    reconnect_timeout=3600.0, open=False, configure=_configure,
                )
                self._pool.open(wait=False)
                self._pool_pid = os.getpid()
            return self._pool

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        pool = self._get_pool()
        conn = pool.getconn()
        tries = 0
        while _dropped(conn):
            conn.close()
            pool.putconn(conn)  # closed: the pool replaces it
            tries += 1
            if tries > self.pool_max_size + 1:
                raise psycopg.OperationalError(
                    f"every pooled connection to {self.describe()} was dropped by the server"
                )
            conn = pool.getconn()
        try:
            yield conn
        finally:
            pool.putconn(conn)

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
        conn = self._connect_direct()
        try:
            self._run_migrations(conn)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise BackendUnavailableError(
                f"user may not create the taskbasket schema {self.schema!r} in "
                f"{self.describe()} ({exc}); run the first migration as a user with CREATE "
                "on the database, or create the schema and grant this user rights on it"
            ) from exc
        finally:
            conn.close()
        self._migrated = True

    def _schema_version(self, conn: Connection) -> int:
        """The schema's applied migration count (0 if it has none yet)."""
        table = f"{self._quoted_schema}.schema_version"
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        if not row or not row[0]:
            return 0
        found = conn.execute(f"SELECT coalesce(max(version), 0) FROM {table}").fetchone()
        return int(found[0]) if found else 0

    def _run_migrations(self, conn: Connection) -> None:
        version = self._schema_version(conn)
        if version == SCHEMA_VERSION:
            return  # the common case: no lock taken
        s = self._quoted_schema
        with conn.transaction():
            # serialise with every other process migrating this schema
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('taskbasket'), hashtext(%s))",
                (self.schema,),
            )
            exists = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
            ).fetchone()
            if not exists:
                conn.execute(f"CREATE SCHEMA {s}")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.schema_version (version integer PRIMARY KEY, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
            version = self._schema_version(conn)
            if version > SCHEMA_VERSION:
                raise BackendUnavailableError(
                    f"schema {self.schema!r} in {self.describe()} is at taskbasket schema "
                    f"version {version}, newer than this taskbasket knows "
                    f"({SCHEMA_VERSION}); upgrade taskbasket"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                conn.execute(script.replace("{s}", s).encode())
                conn.execute(
                    f"INSERT INTO {s}.schema_version (version) VALUES (%s)", (number,)
                )

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
                raise _wrong_connection(connection, "psycopg.Connection")
            self._ensure_migrated()
            # the app's transaction: insert, never commit or roll back
            try:
                return self._run_insert(conn, tasks)
            except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as exc:
                raise self._elsewhere(exc) from exc
        with self._connection() as conn:
            if len(tasks) >= COPY_THRESHOLD or any(t.unique_key is not None for t in tasks):
                # several statements (COPY; a second try of a unique key): all or none
                with conn.transaction():
                    return self._run_insert(conn, tasks)
            return self._run_insert(conn, tasks)

    def _run_insert(self, conn: psycopg.Connection[Any], tasks: Sequence[NewTask]) -> list[TaskRef]:
        if len(tasks) >= COPY_THRESHOLD and all(t.unique_key is None for t in tasks):
            return self._copy_insert(conn, tasks)
        run = _InsertRun(self, tasks)
        with conn.cursor(row_factory=tuple_row) as cursor:
            while (step := run.query()) is not None:
                cursor.execute(step[0], step[1])
                run.feed(cursor.fetchall())
        return run.result()

    def _copy_insert(self, conn: psycopg.Connection[Any], tasks: Sequence[NewTask]
                     ) -> list[TaskRef]:
        """A big batch with COPY, then a NOTIFY per queue that got due tasks.

        ``now()`` is the transaction's start, so reading it first gives the very times the
        one-statement insert would have written; COPY itself is atomic when the caller's
        connection is in autocommit mode.
        """
        with conn.cursor(row_factory=tuple_row) as cursor:
            row = cursor.execute("SELECT now()").fetchone()
            assert row is not None
            now: datetime = row[0]
            due_queues: set[str] = set()
            with cursor.copy(self._sql_copy) as copy:
                for task in tasks:
                    if task.run_at is not None:
                        run_at = task.run_at
                    elif task.delay > 0:
                        run_at = now + timedelta(seconds=task.delay)
                    else:
                        run_at = now
                    if run_at <= now:
                        state = "queued"
                        due_queues.add(task.queue)
                    else:
                        state = "scheduled"
                    copy.write_row((
                        task.id, task.name, task.queue, state, task.payload, task.priority,
                        task.max_attempts, float(task.timeout), now, run_at,
                    ))
            if due_queues:
                cursor.execute(
                    "SELECT count(pg_notify(%s, q)) FROM unnest(%s::text[]) AS q",
                    (self.channel, sorted(due_queues)),
                )
        return [TaskRef(task.id, True) for task in tasks]

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
            raise _wrong_connection(connection, "psycopg.AsyncConnection")
        if not self._migrated:
            await asyncio.to_thread(self.migrate)
        run = _InsertRun(self, tasks)
        try:
            async with conn.cursor(row_factory=tuple_row) as cursor:
                while (step := run.query()) is not None:
                    await cursor.execute(step[0], step[1])
                    run.feed(await cursor.fetchall())
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as exc:
            raise self._elsewhere(exc) from exc
        return run.result()

    def _elsewhere(self, exc: psycopg.Error) -> ConfigurationError:
        return ConfigurationError(
            f"connection= reaches a database without this store's schema {self.schema!r} "
            f"({str(exc).strip().splitlines()[0]}); open it on the store's database, "
            f"{self.describe()}: tasks must live where the transaction they join commits"
        )

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
        rows = self._fetch(self._sql_claim_created if created else self._sql_claim, [
            token, float(params.lease_seconds), params.worker_id, names, queues,
            params.limit, 1 if params.count_attempt else 0,
        ])
        claimed = claimed_tasks(self, token, [
            (r[0], functools.partial(_claimed, r, token)) for r in rows])
        if created:
            claimed.sort(key=lambda t: t.id)
        else:
            claimed.sort(key=lambda t: (-t.priority, t.run_at, t.id))
        return claimed

    def leases_extend(self, params: LeaseExtendParams) -> set[str]:
        leases = sorted(
            (lease for lease in params.leases if _is_uuid(lease.task_id)),
            key=lambda lease: lease.task_id,
        )
        if not leases:
            return set()
        rows = self._fetch(self._sql_extend, [
            float(params.lease_seconds), [lease.task_id for lease in leases],
            [lease.token for lease in leases],
        ])
        held = {row[0] for row in rows}
        # answer in the caller's spelling of each id
        return {lease.task_id for lease in leases if str(uuid.UUID(lease.task_id)) in held}

    def tasks_finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        order = sorted(
            (i for i, o in enumerate(outcomes) if _is_uuid(o.lease.task_id)),
            key=lambda i: outcomes[i].lease.task_id,
        )
        accepted = [False] * len(outcomes)
        deleted = [i for i in order if _deletes(outcomes[i])]
        if deleted:
            order = [i for i in order if not _deletes(outcomes[i])]
            rows = self._fetch(self._sql_finish_delete, [
                deleted, [outcomes[i].lease.task_id for i in deleted],
                [outcomes[i].lease.token for i in deleted],
            ])
            for row in rows:
                accepted[row[0]] = True
        if not order:
            return accepted
        chosen = [outcomes[i] for i in order]
        args: list[Any] = [
            order, [o.lease.task_id for o in chosen], [o.lease.token for o in chosen],
            [o.kind.value for o in chosen], [o.error for o in chosen],
            [float(o.retry_delay) for o in chosen], [o.retry_at for o in chosen],
        ]
        if any(o.kind is OutcomeKind.RELEASED for o in chosen):
            rows = self._fetch(self._sql_finish_notify, [*args, self.channel])
        else:
            rows = self._fetch(self._sql_finish, args)
        for row in rows:
            accepted[row[0]] = True
        return accepted

    # ------------------------------------------------------------------ maintenance

    def leases_expired(self, params: LeasesExpiredParams) -> list[ExpiredLease]:
        rows = self._fetch(self._sql_expired, [max(0, params.limit)])
        return [expired_lease(*row) for row in rows]

    def leases_rescue(self, params: LeasesRescueParams) -> list[bool]:
        rescues = params.rescues
        order = sorted((i for i, r in enumerate(rescues) if _is_uuid(r.lease.task_id)),
                       key=lambda i: rescues[i].lease.task_id)
        applied = [False] * len(rescues)
        if not order:
            return applied
        chosen = [rescues[i] for i in order]
        rows = self._fetch(self._sql_rescue, [
            order, [r.lease.task_id for r in chosen], [r.lease.token for r in chosen],
            [r.kind.value for r in chosen], [r.error for r in chosen],
            [float(r.delay) if r.kind is RescueKind.REQUEUE else 0.0 for r in chosen],
            self.channel,
        ])
        for row in rows:
            applied[row[0]] = True
        return applied

    def tasks_promote(self, params: PromoteParams) -> int:
        if params.limit <= 0:
            return 0
        return int(self._fetch(self._sql_promote, [params.limit, self.channel])[0][0])

    def tasks_prune(self, params: PruneParams) -> int:
        ages = [(s.value, float(age)) for s, age in params.older_than.items()
                if s in FINAL_STATES]
        if not ages or params.limit <= 0:
            return 0
        t = self.table
        condition = " OR ".join(
            "(state = %s AND finished_at < now() - %s::float8 * interval '1 second')"
            for _ in ages)
        values = [x for age in ages for x in age]
        return self._rowcount(
            f"DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE finished_at IS NOT NULL "
            f"AND ({condition}) LIMIT %s) AND ({condition})",
            [*values, params.limit, *values],
        )

    def leader_try(self, params: LeaderParams) -> bool:
        rows = self._fetch(self._sql_leader_try,
                           [params.name, params.holder, float(params.ttl)])
        return bool(rows)

    def leader_resign(self, params: LeaderParams) -> None:
        self._rowcount(
            f"DELETE FROM {self._quoted_schema}.leaders WHERE name = %s AND holder = %s",
            [params.name, params.holder])

    def listener(self, queues: Sequence[str] | None) -> Listener:
        listener = PostgresListener(self, queues)
        with self._lock:
            self._listeners = [item for item in self._listeners if not item.closed]
            self._listeners.append(listener)
        return listener

    # ------------------------------------------------------------------ inspection

    def tasks_get(self, task_id: str) -> StoredTask | CorruptTask | None:
        if not _is_uuid(task_id):
            return None
        rows = self._fetch(f"SELECT {_COLUMNS} FROM {self.table} WHERE id = %s::uuid",
                           [str(task_id)])
        return _read_row(rows[0]) if rows else None

    def tasks_list(self, params: ListParams) -> list[StoredTask | CorruptTask]:
        where, args = _where(params.filter)
        if params.before_id is not None:
            if not _is_uuid(params.before_id):
                raise ConfigurationError(
                    f"before={params.before_id!r} is not a task id; pass the id of the last "
                    "task of the previous page"
                )
            where += " AND id < %s::uuid"
            args.append(str(params.before_id))
        columns = _COLUMNS if params.with_payload else _COLUMNS_WITHOUT_PAYLOAD
        rows = self._fetch(
            f"SELECT {columns} FROM {self.table} WHERE {where} ORDER BY id DESC LIMIT %s",
            [*args, params.limit],
        )
        return [_read_row(row) for row in rows]

    def tasks_count(self, task_filter: TaskFilter) -> int:
        where, args = _where(task_filter)
        return int(self._fetch(f"SELECT count(*) FROM {self.table} WHERE {where}", args)[0][0])

    def tasks_stats(self) -> dict[tuple[str, State], int]:
        rows = self._fetch(f"SELECT queue, state, count(*) FROM {self.table} GROUP BY 1, 2")
        return state_counts(rows)

    def tasks_count_by_name(self, params: CountByNameParams) -> dict[str, int]:
        if not params.states:
            return {}
        rows = self._fetch(f"SELECT name, count(*) FROM {self.table} "
                           "WHERE state = ANY(%s) GROUP BY 1", [[str(s) for s in params.states]])
        return {name: int(count) for name, count in rows}

    # ------------------------------------------------------------------ operators

    def tasks_retry(self, task_filter: TaskFilter) -> int:
        where, args = _where(task_filter)
        t = self.table
        # Among candidates sharing a unique key only one may become pending, and none
        # where another pending task holds the key; one already pending is preferred.
        query = (
            f"WITH cand AS (SELECT id, unique_key, state FROM {t} "
            f"WHERE state IN {_RETRYABLE} AND {where}), "
            "pick AS ("
            "SELECT id FROM cand WHERE unique_key IS NULL "
            "UNION ALL "
            "(SELECT DISTINCT ON (c.unique_key) c.id FROM cand c "
            "WHERE c.unique_key IS NOT NULL AND NOT EXISTS ("
            f"SELECT 1 FROM {t} o WHERE o.unique_key = c.unique_key "
            f"AND o.state NOT IN {_FINAL} AND o.id NOT IN (SELECT id FROM cand)) "
            "ORDER BY c.unique_key, (c.state IN ('retrying','scheduled')) DESC, c.id)), "
            f"changed AS (UPDATE {t} SET state = 'queued', attempts = 0, run_at = now(), "
            "finished_at = NULL, started_at = NULL, lease_token = NULL, "
            "lease_expires_at = NULL "
            f"WHERE id IN (SELECT id FROM pick) AND state IN {_RETRYABLE} RETURNING queue) "
            "SELECT count(*), (SELECT count(pg_notify(%s, q)) FROM "
            "(SELECT DISTINCT queue AS q FROM changed) d) FROM changed"
        )
        for attempt in range(_MAX_FIND_TRIES):
            try:
                return int(self._fetch(query, [*args, self.channel])[0][0])
            except psycopg.errors.UniqueViolation:
                # a task with one of the keys was enqueued meanwhile: look again
                if attempt == _MAX_FIND_TRIES - 1:
                    raise
        return 0  # pragma: no cover

    def tasks_cancel(self, task_filter: TaskFilter) -> int:
        where, args = _where(task_filter)
        return self._rowcount(
            f"UPDATE {self.table} SET state = 'cancelled', finished_at = now(), "
            "lease_token = NULL, lease_expires_at = NULL "
            f"WHERE state NOT IN {_FINAL} AND {where}",
            args,
        )

    def tasks_delete(self, task_filter: TaskFilter) -> int:
        where, args = _where(task_filter)
        return self._rowcount(f"DELETE FROM {self.table} WHERE {where}", args)


# --------------------------------------------------------------------------- listener


class PostgresListener:
    """LISTEN on a dedicated connection; wakes a worker when tasks become ready.

    ``wait`` polls the connection's socket and a self-pipe, so ``close`` from another
    thread makes it return at once. A dropped connection is re-opened by the next ``wait``,
    which then returns True (notifications may have been missed, so the worker re-polls).
    """

    def __init__(self, backend: PostgresBackend, queues: Sequence[str] | None) -> None:
        self._backend = backend
        self._queues = None if queues is None else frozenset(queues)
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._pipe_closed = False
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._retry_at = 0.0
        self._failures = 0
        with contextlib.suppress(psycopg.Error, OSError):
            self._connect()

    @property
    def closed(self) -> bool:
        return self._closed

    def _connect(self) -> None:
        kwargs = dict(self._backend.connect_kwargs)
        conn = psycopg.connect(self._backend.conninfo, **kwargs)
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._backend.channel)))
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._failures = 0

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _drain(self, conn: Connection) -> bool:
        """Take every notification read so far; True if one is for our queues."""
        woken = False
        while (notify := conn.pgconn.notifies()) is not None:
            if self._queues is None:
                woken = True
            else:
                queue = notify.extra.decode("utf-8", "replace")
                woken = woken or queue in self._queues or not queue
        return woken

    def _pause(self, seconds: float) -> None:
        """Sleep, but return at once when ``close`` is called."""
        with contextlib.suppress(OSError, ValueError):
            _wait_readable([self._wake_read], seconds)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            try:
                return self._wait_locked(deadline)
            finally:
                if self._closed:
                    self._shutdown_locked()

    def _wait_locked(self, deadline: float) -> bool:
        while not self._closed:
            conn = self._conn
            if conn is None:
                now = time.monotonic()
                if now < self._retry_at:
                    self._pause(min(self._retry_at, deadline) - now)
                    if time.monotonic() >= deadline:
                        return False
                    continue
                try:
                    self._connect()
                except (psycopg.Error, OSError):
                    self._failures += 1
                    self._retry_at = time.monotonic() + min(5.0, 0.1 * 2 ** self._failures)
                    if time.monotonic() >= deadline:
                        return False
                    continue
                return True  # (re)connected: notifications may have been missed
            try:
                if self._drain(conn):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                ready = _wait_readable([conn.pgconn.socket, self._wake_read], remaining)
                if self._closed:
                    return False
                if conn.pgconn.socket in ready:
                    conn.pgconn.consume_input()
                    if conn.pgconn.status != psycopg.pq.ConnStatus.OK:
                        raise psycopg.OperationalError("the LISTEN connection was closed")
                    if self._drain(conn):
                        return True
                elif not ready:
                    return False
            except (psycopg.Error, OSError, ValueError):
                self._drop()
                self._retry_at = 0.0
        return False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")
        # a waiter wakes at once and shuts down as it leaves; else do it here
        if self._lock.acquire(timeout=2.0):
            try:
                self._shutdown_locked()
            finally:
                self._lock.release()

    def _shutdown_locked(self) -> None:
        self._drop()
        if not self._pipe_closed:
            self._pipe_closed = True
            for fd in (self._wake_read, self._wake_write):
                with contextlib.suppress(OSError):
                    os.close(fd)


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresBackend", "PostgresListener"]
