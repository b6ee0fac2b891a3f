"""The MySQL store's migrations ship as numbered .sql files: no server needed to check
that they load 1..n, that there are SCHEMA_VERSION of them, and that each renders."""

from __future__ import annotations

import pytest

pytest.importorskip("pymysql")

from taskbasket.backends.migrations import load_migrations
from taskbasket.backends.mysql import MIGRATIONS, SCHEMA_VERSION


def test_migration_files_are_numbered_one_to_schema_version() -> None:
    loaded = load_migrations("taskbasket.backends.mysql")
    assert [m.number for m in loaded] == list(range(1, SCHEMA_VERSION + 1))
    assert len(loaded) == SCHEMA_VERSION == len(MIGRATIONS)
    assert loaded == MIGRATIONS


def test_each_migration_renders_to_statements_without_placeholders() -> None:
    names = {"tasks": "`db`.`t_tasks`", "leaders": "`db`.`t_leaders`"}
    for migration in MIGRATIONS:
        statements = migration.statements(names)
        assert statements, f"migration {migration.number} has no statement"
        assert not any("{" in statement or "}" in statement for statement in statements)
