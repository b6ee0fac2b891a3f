"""The MySQL store's migrations ship as numbered .sql files: no server needed to check
that they load 1..n, that there are SCHEMA_VERSION of them, and that each renders."""

from __future__ import annotations

import hashlib

import pytest

pytest.importorskip("pymysql")

from taskbasket.backends.migrations import load_migrations
from taskbasket.backends.mysql import MIGRATIONS, SCHEMA_VERSION

# The sha256 of each shipped migration file: a shipped migration is never edited (a store
# migrated by it would not get the edit); a change of schema is a new file.
SHIPPED_MIGRATIONS = {
    1: "7e52925e284971051f5de2db5157ecfd211d8f8ad60a9ebf746842b332151dd8",
    2: "647b4afffdd1846f91ed424d1a34c47c04d8425e7489eb964dbacba8a1abe88f",
    3: "335d852e4037f6988349727235721c09c38aec39d16537d67dc1d652b8024e4b",
    4: "422575df4a6ee9c315a2f9fe85dea2c35b3b7822ec57d4d03744ba0cf8bb97e6",
    5: "970231e58017b0884895637481a6a9c07a3629b4df7f31ee80d4c74ad0841e7c",
    6: "90cc3031c6d04307fc6d860965be30f2f1913ad3373944a081408741b3898ea0",
    7: "e18617a32eb8ce73f8b64838dbd0f5eba8ad4fccf5fc275ec0e5d590e4165c1e",
    8: "c1b5b0e89c13affd53a017db6efad954f20f0f0e79bb7957ba55ee9f5ff0f599",
    9: "0127ced347ba5f73850c0ed114767745a81a15655addd4c92a8d9bcb97c082e6",
    10: "e99e0a251d0b016e0f605b9de20f44c1a538c8504294b04ac40b2d2172d31212",
    11: "88b46c248e74f3581644c24a30b59e21b23ab50d0e7eeec745c37ea59e8161d0",
}


def test_migration_files_are_numbered_one_to_schema_version() -> None:
    loaded = load_migrations("taskbasket.backends.mysql")
    assert [m.number for m in loaded] == list(range(1, SCHEMA_VERSION + 1))
    assert len(loaded) == SCHEMA_VERSION == len(MIGRATIONS)
    assert loaded == MIGRATIONS


def test_each_migration_renders_to_statements_without_placeholders() -> None:
    names = {"tasks": "`db`.`t_tasks`", "leaders": "`db`.`t_leaders`",
             "schedules": "`db`.`t_schedules`", "workers": "`db`.`t_workers`",
             "queues": "`db`.`t_queues`", "starts": "`db`.`t_starts`",
             "dependencies": "`db`.`t_dependencies`"}
    for migration in MIGRATIONS:
        statements = migration.statements(names)
        assert statements, f"migration {migration.number} has no statement"
        assert not any("{" in statement or "}" in statement for statement in statements)


def test_shipped_migrations_are_unchanged() -> None:
    hashes = {m.number: hashlib.sha256(m.text.encode()).hexdigest() for m in MIGRATIONS}
    assert {n: hashes[n] for n in SHIPPED_MIGRATIONS} == SHIPPED_MIGRATIONS, (
        "a shipped migration was edited: add a new migration file instead")
