"""The MySQL store's schema: its migrations (the numbered ``.sql`` files in
``migrations/``), where the version is kept, and migrating under a server-wide named lock
(``GET_LOCK``) so that processes on many hosts migrate one store once."""

from __future__ import annotations

import logging

import pymysql

from taskbasket.backends.migrations import Migration, load_migrations, migrate
from taskbasket.backends.mysql.server_errors import NO_SUCH_TABLE, error_code
from taskbasket.backends.mysql.session import Session
from taskbasket.backends.mysql.settings import Settings
from taskbasket.backends.mysql.statements import NOW
from taskbasket.errors import BackendUnavailableError

log = logging.getLogger("taskbasket.backends.mysql")

MIGRATIONS: tuple[Migration, ...] = load_migrations("taskbasket.backends.mysql")
"""Each upgrades the schema by one version; never edit one that has shipped."""
SCHEMA_VERSION = len(MIGRATIONS)
MIGRATION_LOCK_SECONDS = 60


class SchemaTarget:
    """The ``MigrationTarget`` of one store on one session: the version is the highest
    row of the ``schema_version`` table, and migrations run statement by statement."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self._session = session
        self._settings = settings
        self._names = {"tasks": settings.tasks_table, "leaders": settings.leaders_table,
                       "schedules": settings.schedules_table, "queues": settings.queues_table,
                       "starts": settings.starts_table, "workers": settings.workers_table,
                       "dependencies": settings.dependencies_table}

    def schema_version(self) -> int:
        try:
            self._session.execute(f"SELECT MAX(version) FROM {self._settings.versions_table}")
        except pymysql.err.ProgrammingError as exc:
            if error_code(exc) == NO_SUCH_TABLE:  # a new database
                return 0
            raise
        row = self._session.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def apply(self, migration: Migration) -> None:
        for statement in migration.statements(self._names):
            self._session.execute(statement)
        self._session.execute(
            f"INSERT INTO {self._settings.versions_table} (version, applied_at) "
            f"VALUES (%s, {NOW})",
            (migration.number,),
        )
        log.info("migrated %s to schema version %d", self._settings.tasks_table,
                 migration.number)


def migrate_schema(session: Session, settings: Settings) -> None:
    """Bring the store's schema to ``SCHEMA_VERSION``; a store already there costs one
    read, without the lock. A newer schema raises ``BackendUnavailableError``."""
    target = SchemaTarget(session, settings)
    if target.schema_version() == SCHEMA_VERSION:
        return
    lock = settings.migration_lock
    session.execute("SELECT GET_LOCK(%s, %s)", (lock, MIGRATION_LOCK_SECONDS))
    row = session.fetchone()
    if not row or row[0] != 1:
        raise BackendUnavailableError(
            f"could not take the migration lock {lock!r} on {settings.where} "
            f"within {MIGRATION_LOCK_SECONDS}s: another process is migrating (or hung "
            "while migrating) this store; try again"
        )
    try:
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {settings.versions_table} ("
            "version INT NOT NULL PRIMARY KEY, applied_at DATETIME(6) NOT NULL"
            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        )
        migrate(target, MIGRATIONS, settings.tasks_table)
    finally:
        session.execute("SELECT RELEASE_LOCK(%s)", (lock,))
        session.fetchall()


__all__ = ["MIGRATIONS", "MIGRATION_LOCK_SECONDS", "SCHEMA_VERSION", "SchemaTarget",
           "migrate_schema"]
