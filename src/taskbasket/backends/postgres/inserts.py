"""Inserting new tasks: one statement for a few tasks (unnest of arrays; a unique key's
conflict answers with its holder), COPY for a big batch, on a sync or an async psycopg
connection alike; each insert queues a NOTIFY for the queues that got due tasks, which
PostgreSQL delivers when the transaction commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from taskbasket.backends.base import NewTask
from taskbasket.backends.postgres.settings import PostgresSettings
from taskbasket.backends.postgres.statements import Statements
from taskbasket.errors import BackendUnavailableError, ConfigurationError
from taskbasket.task import TaskRef

MAX_FIND_TRIES = 5
"""How often a statement that may lose a race with other clients is tried."""
COPY_THRESHOLD = 200
"""Batches at least this big (without unique keys) are written with COPY: about three
times faster than one INSERT of arrays, for a few more round trips."""
MISSING_SCHEMA = (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName)
"""What a caller's connection to another database raises."""


@dataclass
class InsertRun:
    """One ``tasks_insert``: the statements to run and what their rows mean.

    Driven by a sync or an async connection alike: ``query()`` gives the next statement
    (None when done), ``feed(rows)`` takes its rows. Tasks with unique keys are inserted
    with ``ON CONFLICT DO NOTHING``; one that conflicted returns the holder of its key.
    If the holder became final in between (it is then not found), the task is tried again.
    """

    statements: Statements
    channel: str
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
        if self.tries > MAX_FIND_TRIES:
            raise BackendUnavailableError(
                f"could not insert or find the holder of unique keys after "
                f"{MAX_FIND_TRIES} tries; other clients keep finishing and re-adding them"
            )
        tasks = [self.tasks[i] for i in todo]
        s = self.statements
        if not self.unique and len(tasks) == 1:
            t = tasks[0]
            return s.insert_one, [
                t.id, t.name, t.queue, t.payload, t.priority, t.max_attempts,
                float(t.timeout), None, float(t.delay), t.run_at, t.limit_key or "",
                self.channel,
            ]
        params: list[Any] = [
            [t.id for t in tasks], [t.name for t in tasks], [t.queue for t in tasks],
            [t.payload for t in tasks], [t.priority for t in tasks],
            [t.max_attempts for t in tasks], [float(t.timeout) for t in tasks],
            [t.unique_key for t in tasks], [float(t.delay) for t in tasks],
            [t.run_at for t in tasks], [t.limit_key or "" for t in tasks],
        ]
        if not self.unique:
            return s.insert_plain, [*params, self.channel]
        keys = sorted({t.unique_key for t in tasks if t.unique_key is not None})
        return s.insert_unique, [*params, self.channel, keys]

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


def wrong_connection(connection: Any, expected: str) -> ConfigurationError:
    """The error for a ``connection=`` this store cannot insert on."""
    return ConfigurationError(
        f"connection= must be a {expected} (psycopg 3) for the PostgreSQL store, or a "
        f"SQLAlchemy Session/Connection (AsyncSession/AsyncConnection with enqueue_async) "
        f"on the postgresql+psycopg driver; got "
        f"{type(connection).__module__}.{type(connection).__name__}"
    )


def is_copied(tasks: Sequence[NewTask]) -> bool:
    """Whether ``tasks`` are written with COPY."""
    return len(tasks) >= COPY_THRESHOLD and all(t.unique_key is None for t in tasks)


def insert(conn: psycopg.Connection[Any], tasks: Sequence[NewTask], statements: Statements,
           channel: str) -> list[TaskRef]:
    """Insert ``tasks`` on ``conn`` in its transaction (never committed or rolled back
    here); wrap it in one when more than one statement may run (COPY, a unique key)."""
    if is_copied(tasks):
        return _copy_insert(conn, tasks, statements, channel)
    run = InsertRun(statements, channel, tasks)
    with conn.cursor(row_factory=tuple_row) as cursor:
        while (step := run.query()) is not None:
            cursor.execute(step[0], step[1])
            run.feed(cursor.fetchall())
    return run.result()


def _copy_insert(conn: psycopg.Connection[Any], tasks: Sequence[NewTask],
                 statements: Statements, channel: str) -> list[TaskRef]:
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
        with cursor.copy(statements.copy) as copy:
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
                    task.max_attempts, float(task.timeout), now, run_at, task.limit_key or "",
                ))
        if due_queues:
            cursor.execute(statements.notify_queues, (channel, sorted(due_queues)))
    return [TaskRef(task.id, True) for task in tasks]


async def insert_async(conn: psycopg.AsyncConnection[Any], tasks: Sequence[NewTask],
                       statements: Statements, channel: str) -> list[TaskRef]:
    """``insert`` on an async connection, in its transaction (never with COPY)."""
    run = InsertRun(statements, channel, tasks)
    async with conn.cursor(row_factory=tuple_row) as cursor:
        while (step := run.query()) is not None:
            await cursor.execute(step[0], step[1])
            run.feed(await cursor.fetchall())
    return run.result()


def elsewhere(exc: psycopg.Error, settings: PostgresSettings) -> ConfigurationError:
    """The error for a caller's connection that reaches a database without the schema."""
    return ConfigurationError(
        f"connection= reaches a database without this store's schema {settings.schema!r} "
        f"({str(exc).strip().splitlines()[0]}); open it on the store's database, "
        f"{settings.describe()}: tasks must live where the transaction they join commits"
    )


__all__ = ["COPY_THRESHOLD", "MAX_FIND_TRIES", "MISSING_SCHEMA", "InsertRun", "elsewhere",
           "insert", "insert_async", "is_copied", "wrong_connection"]
