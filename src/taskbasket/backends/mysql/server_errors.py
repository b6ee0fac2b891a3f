"""The MySQL errors the store acts on: which mean the connection is gone, which are lock
conflicts to retry, and what the user is told when the server cannot be used."""

from __future__ import annotations

import pymysql

from taskbasket.backends.mysql.settings import Settings
from taskbasket.errors import BackendUnavailableError
from taskbasket.redaction import redact_url

CONNECTION_ERRORS = frozenset({
    1053,  # server shutdown in progress
    1927,  # connection was killed (MariaDB)
    2003,  # can't connect
    2006,  # server has gone away
    2013,  # lost connection during query
    2014,  # commands out of sync: the connection's state is unknown
    2055,  # lost connection (system error)
    4031,  # disconnected by the server for inactivity (MySQL 8)
})
"""Errors that mean the connection is gone (or was never made)."""
CONFLICTS = frozenset({1205, 1213})
"""Lock wait timeout, deadlock: roll back and run the transaction again."""
NO_SUCH_TABLE = 1146


def error_code(exc: BaseException) -> int | None:
    """The server's error number of ``exc``, if it is a MySQL error that has one."""
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the connection is lost (or closed already)."""
    if isinstance(exc, pymysql.err.InterfaceError | OSError | EOFError):
        return True  # InterfaceError: the connection is closed already
    return isinstance(exc, pymysql.err.OperationalError) and error_code(exc) in (
        CONNECTION_ERRORS
    )


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a deadlock or a lock wait timeout."""
    return error_code(exc) in CONFLICTS


def unavailable(exc: BaseException, settings: Settings) -> BackendUnavailableError:
    """The error for a server that cannot be used, saying what to check."""
    code = error_code(exc)
    where = settings.where
    if code == 1045:
        return BackendUnavailableError(
            f"MySQL server at {where} refused user {settings.user!r} ({exc}); check the "
            "user and password in the store URL"
        )
    if code == 1049:
        return BackendUnavailableError(
            f"database {settings.database!r} does not exist on the MySQL server at {where}; "
            f"create it: CREATE DATABASE `{settings.database}` CHARACTER SET utf8mb4"
        )
    if code in (1040, 1203):
        return BackendUnavailableError(
            f"the MySQL server at {where} has no connection to spare ({exc}); lower "
            "pool_size or the number of workers, or raise max_connections"
        )
    return BackendUnavailableError(
        f"cannot use the MySQL server at {where} ({type(exc).__name__}: {exc}); check "
        f"that it is running and reachable and that the store URL "
        f"{redact_url(settings.url)!r} is right"
    )


__all__ = ["CONFLICTS", "CONNECTION_ERRORS", "NO_SUCH_TABLE", "error_code", "is_conflict",
           "is_connection_error", "unavailable"]
