"""Fixtures shared by every test: an isolated store per test, for every backend."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskbasket import Basket
from tests.stores import STORES, available_store, new_store, unique_tag

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session", autouse=True)
def private_pgbouncer() -> Iterator[None]:
    """Stops the test run's PgBouncer after the last test, if a test started it (the
    stores behind it start it on first use: ``tests/servers/pgbouncer.py``), and checks
    that no statement was prepared on the server connections it held."""
    yield
    from tests.servers.pgbouncer import stop_shared_pgbouncer

    prepared = stop_shared_pgbouncer()
    # pooler=transaction prepares nothing: a statement prepared on one server connection
    # would be missing, or already there, for the next client linked to it
    assert not any(prepared.values()), (
        f"statements were prepared on the server through PgBouncer: {prepared}")


@pytest.fixture(params=STORES)
def store_name(request: pytest.FixtureRequest) -> str:
    return available_store(request.param)


@pytest.fixture
def store_url(store_name: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new, empty store of each backend in turn."""
    with new_store(store_name, unique_tag(request)) as url:
        yield url


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new SQLite store, for tests of SQLite itself."""
    with new_store("sqlite", unique_tag(request)) as url:
        yield url


@pytest.fixture
def basket(store_url: str) -> Iterator[Basket]:
    b = Basket(store_url)
    try:
        yield b
    finally:
        b.close()
