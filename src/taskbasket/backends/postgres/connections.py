"""Connections to PostgreSQL: the psycopg pool (a connection the server dropped is noticed
without a round trip before it is handed out), direct connections with an error that
explains an unreachable server, and the loader that lets a row with an impossible time
load as corrupt instead of failing its whole query.
"""

from __future__ import annotations

import contextlib
import math
import select
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from taskbasket.backends.postgres.settings import PostgresSettings
from taskbasket.errors import BackendUnavailableError

Connection = psycopg.Connection[TupleRow]


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


def wait_readable(fds: Sequence[int], timeout: float) -> set[int]:
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
        return bool(wait_readable([conn.pgconn.socket], 0))
    except (psycopg.Error, OSError, ValueError):
        return True


def connect_direct(settings: PostgresSettings) -> Connection:
    """A connection outside the pool; a clear error if the server cannot be reached."""
    try:
        return psycopg.connect(settings.conninfo, **settings.connect_kwargs)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise BackendUnavailableError(
            f"cannot connect to PostgreSQL at {settings.describe()}: {reason}. Is the server "
            "running and reachable there? Check the URL (host, port, database, user, "
            "password), the server's listen_addresses and pg_hba.conf"
        ) from exc


def open_pool(settings: PostgresSettings) -> ConnectionPool[Connection]:
    """A pool for ``settings``, opening its connections in the background."""
    pool: ConnectionPool[Connection] = ConnectionPool(
        settings.conninfo, kwargs=dict(settings.connect_kwargs),
        min_size=settings.pool_min_size, max_size=settings.pool_max_size,
        timeout=settings.pool_timeout, name=f"taskbasket-{settings.schema}",
        reconnect_timeout=3600.0, open=False, configure=_configure,
    )
    pool.open(wait=False)
    return pool


@contextlib.contextmanager
def pooled_connection(pool: ConnectionPool[Connection], settings: PostgresSettings
                      ) -> Iterator[Connection]:
    """A connection from ``pool`` that the server has not dropped, given back after."""
    conn = pool.getconn()
    tries = 0
    while _dropped(conn):
        conn.close()
        pool.putconn(conn)  # closed: the pool replaces it
        tries += 1
        if tries > settings.pool_max_size + 1:
            raise psycopg.OperationalError(
                f"every pooled connection to {settings.describe()} was dropped by the server"
            )
        conn = pool.getconn()
    try:
        yield conn
    finally:
        pool.putconn(conn)


__all__ = ["Connection", "connect_direct", "open_pool", "pooled_connection",
           "wait_readable"]
