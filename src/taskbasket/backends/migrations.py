"""Schema migrations, one runner for every store.

A store keeps its migrations as numbered files in its package's ``migrations`` folder,
``0001_tasks.sql``, ``0002_leaders.sql``, ...: one file per schema version, never edited
once shipped, numbered without gaps. Names in braces (``{tasks}``) are replaced with the
store's quoted names when the file is applied (``Migration.render``); nothing else in the
text is touched, so SQL keeps its own braces and dollar quotes.

``migrate`` applies the ones a store lacks through the store's ``MigrationTarget`` (which
knows where the version is kept and how a statement runs) and refuses a schema newer than
this taskbasket, with one error text for every store. Locking against other processes is
the store's: it calls ``migrate`` inside its own lock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

from taskbasket.errors import BackendUnavailableError

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One schema version: its number (1, 2, ...), its name and its text."""

    number: int
    name: str
    text: str

    def render(self, names: Mapping[str, str]) -> str:
        """The text with each ``{name}`` replaced by ``names[name]``."""
        text = self.text
        for key, value in names.items():
            text = text.replace("{" + key + "}", value)
        return text

    def statements(self, names: Mapping[str, str]) -> list[str]:
        """The rendered text as single statements, for drivers that run one at a time.
        Statements end with ``;`` at the end of a line; ``--`` comment lines are dropped."""
        lines = [line for line in self.render(names).splitlines()
                 if not line.strip().startswith("--")]
        parts = re.split(r";[ \t]*(?:\n|$)", "\n".join(lines))
        return [part.strip() for part in parts if part.strip()]


def load_migrations(package: str) -> tuple[Migration, ...]:
    """The migrations in ``package``'s ``migrations`` folder, in order.

    Raises ``RuntimeError`` for a misnamed file or a gap in the numbers: a packaging bug,
    caught by the test suite, never by a user."""
    folder = resources.files(package).joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE.match(entry.name)
        if match is None:
            raise RuntimeError(f"migration file {entry.name!r} in {package} is not "
                               "named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.number)
    numbers = [migration.number for migration in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations of {package} are not numbered 1..n: {numbers}")
    return tuple(found)


def newer_schema_error(where: str, found: int, known: int) -> BackendUnavailableError:
    """The error for a store whose schema a newer taskbasket has migrated."""
    return BackendUnavailableError(
        f"{where} has taskbasket schema version {found}, newer than this taskbasket knows "
        f"({known}); upgrade taskbasket (pip install -U taskbasket) on this host, or point "
        "it at another store"
    )


class MigrationTarget(Protocol):
    """Where a store keeps its schema version, and how it applies one migration."""

    def schema_version(self) -> int:
        """The number of the last migration applied (0 for a new store)."""
        ...

    def apply(self, migration: Migration) -> None:
        """Run ``migration`` and record its number as the schema version."""
        ...


def migrate(target: MigrationTarget, migrations: Sequence[Migration], where: str) -> int:
    """Apply the migrations ``target`` lacks, in order; the version it ends at.
    A schema newer than ``migrations`` raises ``newer_schema_error``."""
    version = target.schema_version()
    if version > len(migrations):
        raise newer_schema_error(where, version, len(migrations))
    for migration in migrations[version:]:
        target.apply(migration)
    return len(migrations)


__all__ = ["Migration", "MigrationTarget", "load_migrations", "migrate",
           "newer_schema_error"]
