"""The store's schema: its migrations (the numbered files in ``migrations/``, ``{s}`` being
the quoted schema name), applied by the shared runner under an advisory lock in one
transaction, so that many workers starting at once are safe; the version is kept in the
schema's ``schema_version`` table.
"""

from __future__ import annotations

import psycopg

from taskbasket.backends.migrations import Migration, load_migrations, migrate
from taskbasket.backends.postgres.connections import Connection, connect_direct
from taskbasket.backends.postgres.settings import PostgresSettings
from taskbasket.errors import BackendUnavailableError

MIGRATIONS: tuple[Migration, ...] = load_migrations("taskbasket.backends.postgres")
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaVersionTable:
    """The ``MigrationTarget`` of one schema: its ``schema_version`` table, on ``conn``."""

    def __init__(self, conn: Connection, quoted_schema: str) -> None:
        self._conn = conn
        self._schema = quoted_schema

    def schema_version(self) -> int:
        """The schema's applied migration count (0 if it has none yet)."""
        table = f"{self._schema}.schema_version"
        row = self._conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        if not row or not row[0]:
            return 0
        found = self._conn.execute(f"SELECT coalesce(max(version), 0) FROM {table}").fetchone()
        return int(found[0]) if found else 0

    def apply(self, migration: Migration) -> None:
        s = self._schema
        self._conn.execute(migration.render({"s": s}).encode())
        self._conn.execute(
            f"INSERT INTO {s}.schema_version (version) VALUES (%s)", (migration.number,)
        )


def _run_migrations(conn: Connection, settings: PostgresSettings) -> None:
    target = SchemaVersionTable(conn, settings.quoted_schema)
    if target.schema_version() == SCHEMA_VERSION:
        return  # the common case: no lock taken
    s = settings.quoted_schema
    with conn.transaction():
        # serialise with every other process migrating this schema
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('taskbasket'), hashtext(%s))",
            (settings.schema,),
        )
        exists = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (settings.schema,)
        ).fetchone()
        if not exists:
            conn.execute(f"CREATE SCHEMA {s}")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {s}.schema_version (version integer PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        migrate(target, MIGRATIONS,
                f"schema {settings.schema!r} in {settings.describe()}")


def migrate_schema(settings: PostgresSettings) -> None:
    """Create or upgrade the store's schema, on a connection of its own; a user without
    the rights gets an error that says which."""
    conn = connect_direct(settings)
    try:
        _run_migrations(conn, settings)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise BackendUnavailableError(
            f"user may not create the taskbasket schema {settings.schema!r} in "
            f"{settings.describe()} ({exc}); run the first migration as a user with CREATE "
            "on the database, or create the schema and grant this user rights on it"
        ) from exc
    finally:
        conn.close()


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SchemaVersionTable", "migrate_schema"]
