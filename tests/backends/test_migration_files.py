"""The stores' migration files: numbered 1..n, shipped ones never edited, and a store whose
schema is newer than this taskbasket refused with the one shared error text.

A store joins ``MIGRATION_PACKAGES`` (and ``SHIPPED``) when its migrations move to files."""

from __future__ import annotations

import hashlib
import importlib
import sqlite3
from pathlib import Path

import pytest

from taskbasket import BackendUnavailableError, Basket
from taskbasket.backends.migrations import load_migrations, newer_schema_error

MIGRATION_PACKAGES = ["taskbasket.backends.sqlite"]

SHIPPED: dict[str, dict[int, str]] = {
    "taskbasket.backends.sqlite": {
        1: "3a6171c30bda929115a743ecff3a9fa523660064ef02c6e430e701ffaf3d321c",
        2: "8a10e36d997baef9316375afe977d1c3a2d55b882d583428e6246ed1cd99d967",
        3: "9ab13547b50eb9f5d358b88f9e6c9ee82ffa3a3379a0e68bd888908bebfec274",
        4: "01bf67fead5311f657d314622655e1482c90a8bd3b3feb4d6bde82676026e992",
        5: "9db8967fda95818012eb5a0e3ee78c9bff3dda539fbd207ebdbb4381e0b9158f",
        6: "13d54bf274afba1c593a4d10c7452b38456da6ef84ea037fb0515dcb81b37f8e",
        7: "a9e18c64bb03154f96b3dc2b49360330c424b7b615b624ba12756fe8ad0c2b6e",
        8: "9fa972be265ed3f1f4ab7c3e9f5998f67216aa29dc82805b39ac126eb37fe04c",
        9: "0f88ba1c79a04baa438097895e2c333a3cf089e2dda924aa08c7d70bb5a2de34",
        10: "05979712165b5457e792f1b20be4de85b4fe08b4dd6ba51b3b673ebe9c31be62",
        11: "672e49042ec6813daec53b40001dba41542c0a0711a763b241ebde3f46f41c7c",
    },
}
"""The sha256 of each shipped migration file: a shipped migration is never edited (add
the next number instead); a new file's hash is added here when it ships."""


@pytest.mark.parametrize("package", MIGRATION_PACKAGES)
def test_migration_files_load_numbered_one_to_n(package: str) -> None:
    migrations = load_migrations(package)
    assert [m.number for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(m.statements({}) for m in migrations)  # none is empty
    store = importlib.import_module(package)
    assert store.SCHEMA_VERSION == len(migrations) == len(store.MIGRATIONS)


@pytest.mark.parametrize("package", MIGRATION_PACKAGES)
def test_shipped_migrations_are_unchanged(package: str) -> None:
    migrations = load_migrations(package)
    hashes = {m.number: hashlib.sha256(m.text.encode()).hexdigest() for m in migrations}
    shipped = SHIPPED[package]
    assert {n: hashes[n] for n in shipped} == shipped


def _package(root: Path, name: str, files: list[str]) -> str:
    folder = root / name / "migrations"
    folder.mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    for file in files:
        (folder / file).write_text("CREATE TABLE {tasks} (id TEXT);\n")
    return name


def test_a_gap_or_a_misnamed_file_is_a_packaging_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    gap = _package(tmp_path, "tb_gap_store", ["0001_tasks.sql", "0003_more.sql"])
    with pytest.raises(RuntimeError, match=r"not numbered 1\.\.n: \[1, 3\]"):
        load_migrations(gap)
    misnamed = _package(tmp_path, "tb_misnamed_store", ["0001_tasks.sql", "2_more.sql"])
    with pytest.raises(RuntimeError, match=r"is not named NNNN_name\.sql"):
        load_migrations(misnamed)


def test_a_newer_sqlite_schema_is_refused_with_the_shared_text(tmp_path: Path) -> None:
    from taskbasket.backends.sqlite import SCHEMA_VERSION

    path = tmp_path / "newer.db"
    with Basket(f"sqlite:///{path}") as basket:
        basket.migrate()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    expected = newer_schema_error(str(path), SCHEMA_VERSION + 1, SCHEMA_VERSION)
    with Basket(f"sqlite:///{path}") as basket, pytest.raises(BackendUnavailableError) as info:
        basket.count()
    assert str(info.value) == str(expected)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1  # untouched
    conn.close()
