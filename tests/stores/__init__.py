"""Isolated test stores, one factory module per backend.

Adding a backend to every conformance test, crash test and benchmark means adding its
name to ``STORES`` and writing ``tests/stores/<name>.py`` with a ``FACTORY``.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Protocol

import pytest

STORES = ["sqlite", "postgres", "mysql", "redis"]


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


def factory(name: str) -> StoreFactory:
    try:
        module = importlib.import_module(f"tests.stores.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"tests.stores.{name}":
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


def available_store(name: str) -> str:
    """``name``, if its server is reachable; else skip the test (fail if it is required)."""
    reason = factory(name).unavailable()
    if reason:
        if name in required_stores():
            pytest.fail(f"{name} is required (TASKBASKET_REQUIRE_BACKENDS) but: {reason}")
        pytest.skip(f"{name}: {reason}")
    return name
