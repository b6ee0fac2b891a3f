"""Opening one PyMySQL connection set up for the store: autocommit, READ COMMITTED, UTC,
strict SQL, the store's lock wait, and timeouts that bound connecting and each query.

PyMySQL ships no type hints: ``Cursor`` and ``Connection`` name the parts used here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Protocol

import pymysql
from pymysql.constants import CLIENT

from taskbasket.backends.mysql.server_errors import unavailable
from taskbasket.backends.mysql.settings import Settings

MAX_STATEMENT_BYTES = 8 * 1024 * 1024
"""The longest statement the store sends, if the server's max_allowed_packet allows it."""


class Cursor(Protocol):
    """The part of a PyMySQL cursor the store uses."""

    def execute(self, query: str, args: Any = None) -> int: ...

    def fetchall(self) -> Sequence[tuple[Any, ...]]: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...

    def nextset(self) -> bool | None: ...

    rowcount: int

    def __enter__(self) -> Cursor: ...

    def __exit__(self, *exc: object) -> None: ...


class Connection(Protocol):
    """The part of a PyMySQL connection the store uses."""

    open: bool
    server_status: int | None

    def cursor(self) -> Cursor: ...

    def begin(self) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    def escape(self, value: Any) -> str: ...

    def get_autocommit(self) -> bool: ...


def close_quietly(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        conn.close()


def connect(settings: Settings) -> tuple[Connection, int]:
    """A new connection, and the longest statement its server accepts (in bytes).
    A server that cannot be used raises ``BackendUnavailableError``."""
    kwargs: dict[str, Any] = {
        "user": settings.user, "password": settings.password, "database": settings.database,
        "charset": "utf8mb4", "autocommit": True,
        "connect_timeout": settings.connect_timeout,
        # the handshake and the session setup are part of connecting: bounded by
        # connect_timeout, as on PostgreSQL and Redis (not by the 120 s read_timeout)
        "read_timeout": settings.connect_timeout, "write_timeout": settings.connect_timeout,
        "client_flag": CLIENT.MULTI_STATEMENTS,
    }
    if settings.unix_socket:
        kwargs["unix_socket"] = settings.unix_socket
    else:
        kwargs["host"] = settings.host
        kwargs["port"] = settings.port
    if settings.ssl is not None:
        kwargs["ssl"] = settings.ssl
    if settings.ssl_verify_cert is not None:
        kwargs["ssl_verify_cert"] = settings.ssl_verify_cert
    try:
        conn: Connection = pymysql.connect(**kwargs)
    except (pymysql.err.MySQLError, OSError) as exc:
        raise unavailable(exc, settings) from exc
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cur.execute(
                "SET SESSION time_zone = '+00:00', "
                f"innodb_lock_wait_timeout = {settings.lock_wait_timeout}, "
                "sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
                "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
            )
            cur.execute("SELECT @@max_allowed_packet")
            row = cur.fetchone()
    except BaseException as exc:
        close_quietly(conn)
        if isinstance(exc, pymysql.err.MySQLError | OSError):
            raise unavailable(exc, settings) from exc
        raise
    # connected: queries get their own bounds. PyMySQL has no public setter; its reads
    # and writes apply these attributes before each socket operation
    conn._read_timeout = settings.read_timeout  # type: ignore[attr-defined]
    conn._write_timeout = settings.write_timeout  # type: ignore[attr-defined]
    limit = MAX_STATEMENT_BYTES
    if row:
        limit = max(64 * 1024, min(MAX_STATEMENT_BYTES, int(row[0]) - 4096))
    return conn, limit


__all__ = ["MAX_STATEMENT_BYTES", "Connection", "Cursor", "close_quietly", "connect"]
