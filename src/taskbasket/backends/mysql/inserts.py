"""Storing new tasks on MySQL: running the INSERTs, telling which keyed tasks went in and
which task holds the key of each that did not; and the checks on an application's own
connection (``connection=``) that make its tasks join its transaction safely."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pymysql
import pymysql.connections
from pymysql.constants import SERVER_STATUS

from taskbasket.backends.base import NewTask
from taskbasket.backends.mysql.server_errors import NO_SUCH_TABLE, error_code
from taskbasket.backends.mysql.session import Session
from taskbasket.backends.mysql.settings import Settings
from taskbasket.backends.mysql.values import hex_literal, id_bytes, id_str
from taskbasket.backends.mysql.workflows import workflow_steps
from taskbasket.errors import BackendUnavailableError, ConfigurationError
from taskbasket.task import TaskRef


def insert_on(
    session: Session, table: str, tasks: Sequence[NewTask], statements: Sequence[str],
    commit: bool = True,
) -> list[TaskRef]:
    """Run ``statements`` (the INSERTs of ``tasks``); a reference per task, to it or to
    the live task that holds its unique key. ``commit`` False leaves a transaction open
    for more statements."""
    keyed = [t for t in tasks if t.unique_key is not None]
    for index, statement in enumerate(statements):
        session.execute(statement,
                        commit=commit and not keyed and index == len(statements) - 1)
    if not keyed:
        return [TaskRef(t.id, True) for t in tasks]
    # which keyed tasks went in, and who holds the keys of those that did not
    ids = ",".join(hex_literal(id_bytes(t.id) or b"") for t in keyed)
    keys = ",".join(hex_literal((t.unique_key or "").encode("utf-8")) for t in keyed)
    # Locking reads see the newest committed rows even in a REPEATABLE READ snapshot
    # (the application's connection); the holders are locked by the insert already.
    session.execute(
        f"(SELECT id, unique_active FROM {table} WHERE id IN ({ids}) "
        "LOCK IN SHARE MODE) UNION ALL "
        f"(SELECT id, unique_active FROM {table} WHERE unique_active IN ({keys}) "
        "LOCK IN SHARE MODE)",
        commit=commit,
    )
    present: set[str] = set()
    holders: dict[bytes, str] = {}
    for raw_id, active in session.fetchall():
        present.add(id_str(raw_id))
        if active is not None:
            holders[bytes(active)] = id_str(raw_id)
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


def check_app_connection(connection: Any) -> pymysql.connections.Connection:
    """``connection`` if it is a PyMySQL connection that stores any text intact."""
    if not isinstance(connection, pymysql.connections.Connection):
        raise ConfigurationError(
            "connection= must be a PyMySQL connection (pymysql.connections.Connection, "
            "from pymysql.connect(...), or a SQLAlchemy Session/Connection on "
            f"mysql+pymysql) for the MySQL store, got "
            f"{type(connection).__module__}.{type(connection).__name__}"
        )
    return connection


def check_charset(connection: pymysql.connections.Connection) -> None:
    charset = str(getattr(connection, "charset", "")).lower()
    if charset != "utf8mb4":
        raise ConfigurationError(
            f"connection= uses charset {charset!r}; open it with "
            "pymysql.connect(..., charset='utf8mb4') so any text is stored intact"
        )


def check_atomic(connection: pymysql.connections.Connection, tasks: int, statements: int) -> None:
    """Several INSERTs on an application's connection need its transaction."""
    status = connection.server_status or 0
    in_transaction = bool(status & SERVER_STATUS.SERVER_STATUS_IN_TRANS)
    if statements > 1 and not (in_transaction or not connection.get_autocommit()):
        raise ConfigurationError(
            f"{tasks} tasks need {statements} INSERT statements, and the "
            "connection= is in autocommit mode outside a transaction, so they could not "
            "be stored all or none; call connection.begin() first (or enqueue fewer)"
        )


def insert_on_app_connection(
    connection: pymysql.connections.Connection, table: str, where: str,
    tasks: Sequence[NewTask], statements: Sequence[str], settings: Settings,
) -> list[TaskRef]:
    """Run the INSERTs on the application's connection, in its transaction, with the
    workflow steps of the tasks."""
    try:
        with connection.cursor() as cur:
            session = Session(cur, transaction=False)
            refs = insert_on(session, table, tasks, statements)
            if any(task.depends_on or task.workflow_id for task in tasks):
                workflow_steps(session, settings).insert(tasks, refs)
            return refs
    except pymysql.err.ProgrammingError as exc:
        if error_code(exc) == NO_SUCH_TABLE:
            raise ConfigurationError(
                f"connection= cannot see the table {table} ({exc}); it must be "
                f"connected to the store's server ({where}), where taskbasket "
                "keeps its tasks, so that they join your transaction"
            ) from exc
        raise


__all__ = ["check_app_connection", "check_atomic", "check_charset", "insert_on",
           "insert_on_app_connection"]
