"""Isolated test stores, one factory module per backend.

Adding a backend to every conformance test, crash test and benchmark means adding its
name to ``STORES`` and writing ``tests/stores/<name>.py`` with a ``FACTORY``. The
transports that are not stores (``TRANSPORTS``) run the conformance suite too, where
each test their capabilities do not cover is a named skip (``tests/conformance``).
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn, Protocol

import pytest

STORES = ["sqlite", "postgres", "mysql", "redis", "memory"]
TRANSPORTS = ["amqp", "nats", "file"]
POOLED = ["postgres-pgbouncer", "postgres-pgbouncer-listen"]
"""PostgreSQL behind the test run's PgBouncer in transaction mode, without ``listen_url``
(workers poll) and with it (``tests/stores/postgres_pgbouncer.py``)."""
BACKENDS = STORES + TRANSPORTS + POOLED
"""Every backend the conformance suite runs against."""
SHARED_STORES = [name for name in STORES if name != "memory"]
"""The stores that other processes can open by URL (``memory://`` lives in one process):
the chaos runs and the benchmarks, which start worker processes, use these."""


class StoreFactory(Protocol):
    name: str

    def unavailable(self) -> str | None:
        """Why this store cannot be used here (server down, driver missing), or None."""
        ...

    def create(self, tag: str) -> str:
        """A URL of a new, empty store that no other test shares."""
        ...

    def drop(self, url: str) -> None:
        """Remove what ``create`` made."""
        ...


@dataclass
class Missing:
    name: str
    reason: str

    def unavailable(self) -> str | None:
        return self.reason

    def create(self, tag: str) -> str:
        raise RuntimeError(self.reason)

    def drop(self, url: str) -> None:
        return None


def family(name: str) -> str:
    """The backend a test store variant is of: ``postgres`` for ``postgres-pgbouncer``."""
    return name.split("-", 1)[0]


def factory(name: str) -> StoreFactory:
    module_name = f"tests.stores.{name.replace('-', '_')}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return Missing(name, f"the {name} backend does not exist yet")
        raise
    found: StoreFactory = module.FACTORY
    return found


def existing_stores() -> list[str]:
    return [name for name in STORES if not isinstance(factory(name), Missing)]


def required_stores() -> set[str]:
    """Stores that must not be skipped: TASKBASKET_REQUIRE_BACKENDS=all or a list."""
    value = os.environ.get("TASKBASKET_REQUIRE_BACKENDS", "").strip()
    if not value:
        return set()
    if value == "all":
        return set(existing_stores())
    return {name.strip() for name in value.split(",") if name.strip()}


def is_required(name: str) -> bool:
    """Whether the store or bus ``name`` must not be skipped (TASKBASKET_REQUIRE_BACKENDS
    is ``all`` or names it)."""
    value = os.environ.get("TASKBASKET_REQUIRE_BACKENDS", "").strip()
    return value == "all" or name in {n.strip() for n in value.split(",")}


def unique_tag(request: pytest.FixtureRequest | None = None) -> str:
    """A name for a test's own schema, database, key prefix or broker prefix: the test's
    name (when given), the process id and random hex."""
    name = "t"
    if request is not None:
        name = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:30]
    return f"{name}_{os.getpid()}_{os.urandom(3).hex()}"


@contextmanager
def new_store(name: str, tag: str) -> Iterator[str]:
    """The URL of a new, empty store of backend ``name``, dropped afterwards."""
    store = factory(name)
    url = store.create(tag)
    try:
        yield url
    finally:
        store.drop(url)


def skip_unless_required(name: str, reason: str, *, allow_module_level: bool = False) -> NoReturn:
    """Skip the test because ``name`` (a backend, or what a test of it needs: its driver,
    a tool, a browser) cannot be used here, for ``reason``; or fail it, if ``name`` is
    required (``TASKBASKET_REQUIRE_BACKENDS`` is ``all`` or names it)."""
    if is_required(name):
        pytest.fail(f"{name} is required (TASKBASKET_REQUIRE_BACKENDS) but: {reason}",
                    pytrace=False)
    pytest.skip(f"{name}: {reason}", allow_module_level=allow_module_level)


def available_store(name: str) -> str:
    """``name``, if its server is reachable; else skip the test (fail if it is required)."""
    reason = factory(name).unavailable()
    if reason:
        skip_unless_required(name, reason)
    return name
