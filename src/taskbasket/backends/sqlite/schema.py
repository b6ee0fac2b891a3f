"""The SQLite store's tables and its schema versions.

The versions are the numbered files in ``migrations/`` (``{tasks}`` and ``{leaders}`` stand
for the table names), applied by the shared runner; the file keeps its version in
``PRAGMA user_version``, and a first migration runs inside ``BEGIN IMMEDIATE`` so that
processes opening a new file together migrate it once.
"""

from __future__ import annotations

import sqlite3

from taskbasket.backends.migrations import Migration, load_migrations, migrate

TABLE = "taskbasket_tasks"
LEADERS = "taskbasket_leaders"
SCHEDULES = "taskbasket_schedules"
QUEUES = "taskbasket_queues"
STARTS = "taskbasket_starts"
WORKERS = "taskbasket_workers"
DEPENDENCIES = "taskbasket_dependencies"
NAMES = {"tasks": TABLE, "leaders": LEADERS, "schedules": SCHEDULES, "queues": QUEUES,
         "starts": STARTS, "workers": WORKERS, "dependencies": DEPENDENCIES}
"""What the placeholders of the migration files stand for."""

MIGRATION_FILES: tuple[Migration, ...] = load_migrations("taskbasket.backends.sqlite")
MIGRATIONS: tuple[str, ...] = tuple(migration.render(NAMES) for migration in MIGRATION_FILES)
"""Each schema version's SQL with the table names filled in; never edit one that has shipped."""
SCHEMA_VERSION = len(MIGRATION_FILES)


class UserVersionSchema:
    """The ``MigrationTarget`` of one connection's file: the version is
    ``PRAGMA user_version``, and each migration runs in the caller's transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def schema_version(self) -> int:
        version: int = self.conn.execute("PRAGMA user_version").fetchone()[0]
        return version

    def apply(self, migration: Migration) -> None:
        for statement in migration.statements(NAMES):
            self.conn.execute(statement)
        self.conn.execute(f"PRAGMA user_version = {int(migration.number)}")


def migrate_file(conn: sqlite3.Connection, where: str) -> None:
    """Bring the file open on ``conn`` (in autocommit mode) to ``SCHEMA_VERSION``; a schema
    newer than this taskbasket's is refused with the shared error, naming ``where``."""
    target = UserVersionSchema(conn)
    if target.schema_version() >= SCHEMA_VERSION:
        migrate(target, MIGRATION_FILES, where)  # nothing to apply, or refused as newer
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        migrate(target, MIGRATION_FILES, where)  # reads the version again, under the lock
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


__all__ = ["DEPENDENCIES", "LEADERS", "MIGRATIONS", "MIGRATION_FILES", "NAMES", "SCHEDULES",
           "SCHEMA_VERSION", "TABLE", "WORKERS", "UserVersionSchema", "migrate_file"]
