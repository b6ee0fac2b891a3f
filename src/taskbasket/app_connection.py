"""The application's connection (``connection=``) as a store can use it.

A store joins the application's transaction on its driver's own connection (sqlite3,
psycopg, PyMySQL). Applications that use SQLAlchemy 2.x hold a ``Session``,
``Connection``, ``AsyncSession`` or ``AsyncConnection`` (or a scoped session) instead;
this module takes the driver connection out of it, once, for every store, and begins
SQLAlchemy's transaction as any statement on that object would (autobegin). Without
that, SQLAlchemy would not know a transaction was open: its ``commit()`` would do
nothing and the pool would roll the enqueued tasks back when the connection returned.

Anything that is not a SQLAlchemy object is passed on unchanged; the store checks it.
"""

from __future__ import annotations

from typing import Any

from taskbasket.errors import ConfigurationError

__all__ = ["driver_connection", "driver_connection_async"]


def _is_sqlalchemy(connection: Any) -> bool:
    return type(connection).__module__.split(".", 1)[0] == "sqlalchemy"


def _refuse_engine(connection: Any) -> None:
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

    if isinstance(connection, Engine | AsyncEngine):
        raise ConfigurationError(
            "connection= is a SQLAlchemy Engine, which has no transaction to join; pass the "
            "Session or Connection your transaction runs on (with Session(engine) as "
            "session: ... enqueue(connection=session) ... session.commit())"
        )


def _driver(connection: Any, what: str) -> Any:
    """The DB-API driver's connection under SQLAlchemy's pool proxy."""
    inner = getattr(connection, "driver_connection", None)
    if inner is None:
        raise ConfigurationError(f"connection= is a SQLAlchemy {what} whose DB-API "
                                 "connection is closed or invalidated; enqueue inside an "
                                 "open transaction")
    return inner


def driver_connection(connection: Any) -> Any:
    """The driver connection inside a SQLAlchemy ``Session`` or ``Connection`` (whose
    transaction this begins, if it has not begun yet), or ``connection`` itself."""
    if connection is None or not _is_sqlalchemy(connection):
        return connection
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_scoped_session
    from sqlalchemy.orm import Session, scoped_session

    _refuse_engine(connection)
    if isinstance(connection, AsyncSession | AsyncConnection | async_scoped_session):
        raise ConfigurationError(
            f"connection= is a SQLAlchemy {type(connection).__name__}: enqueue with "
            "enqueue_async() (await task.options(connection=...).enqueue_async(...)), or "
            "pass a sync Session or Connection here"
        )
    if isinstance(connection, scoped_session):
        connection = connection()  # this scope's Session
    if isinstance(connection, Session):
        connection = connection.connection()  # begins the session's transaction
    if isinstance(connection, Connection):
        if not connection.in_transaction():
            connection.begin()  # what the next execute() would do (autobegin)
        return _driver(connection.connection, "Connection")
    return connection


async def driver_connection_async(connection: Any) -> Any:
    """``driver_connection`` for ``enqueue_async``: also an ``AsyncSession`` or
    ``AsyncConnection`` (its driver connection is the async one, e.g. a psycopg
    ``AsyncConnection``)."""
    if connection is None or not _is_sqlalchemy(connection):
        return connection
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_scoped_session

    _refuse_engine(connection)
    if isinstance(connection, async_scoped_session):
        connection = connection()
    if isinstance(connection, AsyncSession):
        connection = await connection.connection()  # begins the session's transaction
    if isinstance(connection, AsyncConnection):
        if not connection.in_transaction():
            await connection.begin()
        return _driver(await connection.get_raw_connection(), "AsyncConnection")
    return driver_connection(connection)
