"""The conformance suite runs against every backend (``BACKENDS``): the stores and the
transports that are not stores (RabbitMQ, NATS JetStream, ``file://``).

A test that needs what some backends cannot do says so with
``@pytest.mark.needs("flag", ...)``, naming fields (or flag properties) of
:class:`~taskbasket.backends.base.Capabilities` (``@pytest.mark.lacks(...)`` for a test of
backends without one); where it does not apply it is skipped with a reason naming the
backend and the capability, so ``pytest -ra`` lists every such skip instead of the test
being absent or passing vacuously.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Iterator

import pytest

from taskbasket import Basket
from taskbasket.backends import BACKENDS as SCHEMES
from taskbasket.backends.base import Capabilities
from tests.apps import cpuapp
from tests.stores import BACKENDS, POOLED, available_store, family

_SCHEME = {"postgres": "postgresql"}


def capabilities_of(name: str) -> Capabilities:
    """What the backend of test store ``name`` can do (its class says; nothing connects)."""
    name = family(name)
    module_name, class_name, _ = SCHEMES[_SCHEME.get(name, name)]
    found: Capabilities = getattr(importlib.import_module(module_name), class_name).capabilities
    return found


def _flags(node: pytest.Item, marker_name: str) -> list[str]:
    fields = {f.name for f in dataclasses.fields(Capabilities)} | {
        name for name, value in vars(Capabilities).items() if isinstance(value, property)}
    flags = [flag for marker in node.iter_markers(marker_name) for flag in marker.args]
    for flag in flags:
        if flag not in fields:
            raise pytest.UsageError(
                f"{node.nodeid}: {marker_name}({flag!r}) is not a Capabilities flag; use "
                f"one of {', '.join(sorted(fields))}")
    return flags


def why_not(name: str, node: pytest.Item) -> str | None:
    """Why ``node`` does not apply to backend ``name`` (a capability it ``needs`` and the
    backend lacks, or one it ``lacks`` and the backend has), or None."""
    capabilities = capabilities_of(name)
    missing = [flag for flag in _flags(node, "needs") if not getattr(capabilities, flag)]
    if missing:
        return f"{name} lacks {', '.join(missing)} (Capabilities)"
    present = [flag for flag in _flags(node, "lacks") if getattr(capabilities, flag)]
    if present:
        return f"{name} has {', '.join(present)}: the test is of backends without it"
    return None


@pytest.fixture(params=BACKENDS)
def store_name(request: pytest.FixtureRequest) -> str:
    """Each backend in turn; a test that does not apply to it is a named skip."""
    name: str = request.param
    reason = why_not(name, request.node)
    if reason:
        pytest.skip(reason)
    return available_store(name)


@pytest.fixture
def cpu_basket(store_url: str) -> Iterator[Basket]:
    """A basket of the module-level process handlers of tests/apps/cpuapp.py."""
    basket = Basket(store_url)
    for definition in cpuapp.basket.registry.values():
        basket.task(name=definition.name, executor="process", timeout=definition.timeout,
                    max_attempts=definition.max_attempts)(definition.func)
    yield basket
    basket.close()


POOLED_PART = {
    "test_enqueue", "test_worker", "test_crash", "test_leases", "test_leader_crash",
    "test_maintenance", "test_release", "test_results", "test_schedules", "test_operators",
    "test_unique_race", "test_sqlalchemy",
}
"""The modules that ``make test`` runs through PgBouncer (``POOLED`` stores): enqueue,
workers, leases, crashes and SIGKILLed workers, the leader, maintenance, operators,
results and schedules. ``TASKBASKET_PGBOUNCER=all`` (``make test-pgbouncer``) runs every
module through it."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the PgBouncer variants of the modules outside ``POOLED_PART``, unless
    ``TASKBASKET_PGBOUNCER=all``: the whole suite twice more would cost four minutes."""
    if os.environ.get("TASKBASKET_PGBOUNCER", "").strip() == "all":
        return
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        store = callspec.params.get("store_name") if callspec is not None else None
        module = item.path.stem if item.path is not None else ""
        if store in POOLED and module not in POOLED_PART:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
