"""Fixtures shared by every test: an isolated store per test, for every backend."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskbasket import Basket
from tests.stores import STORES, available_store, factory

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _tag(request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")
    return f"{name[:30]}_{os.getpid()}_{os.urandom(3).hex()}"


@pytest.fixture(params=STORES)
def store_name(request: pytest.FixtureRequest) -> str:
    return available_store(request.param)


@pytest.fixture
def store_url(store_name: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new, empty store of each backend in turn."""
    store = factory(store_name)
    url = store.create(_tag(request))
    try:
        yield url
    finally:
        store.drop(url)


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new SQLite store, for tests of SQLite itself."""
    store = factory("sqlite")
    url = store.create(_tag(request))
    try:
        yield url
    finally:
        store.drop(url)


@pytest.fixture
def basket(store_url: str) -> Iterator[Basket]:
    b = Basket(store_url)
    try:
        yield b
    finally:
        b.close()
