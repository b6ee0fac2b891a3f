"""taskbasket's pytest plugin, loaded by pytest wherever taskbasket is installed (entry
point ``pytest11``; or list it: ``pytest_plugins = ["taskbasket.testing.pytest_plugin"]``).

Fixtures:

- ``taskbasket_basket``: a basket on a fresh ``memory://`` store for the test. With the
  ini option ``taskbasket_basket = "myapp.tasks:basket"`` it is *your* basket, pointed at
  a fresh memory store for the test (``isolated``) and back after, so your registered
  tasks are there; else a new empty ``Basket("memory://")``.
- ``taskbasket_clock``: a :class:`FakeClock`; a test that asks for it gets
  ``taskbasket_basket`` on that clock.
- ``taskbasket_inline``: ``taskbasket_basket`` in inline mode for the test.

Marker: ``@pytest.mark.taskbasket_inline`` runs the test with ``taskbasket_basket`` in
inline mode (the test need not ask for the fixture by name).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest

from taskbasket.basket import Basket
from taskbasket.testing.clock import FakeClock
from taskbasket.testing.inline import inline
from taskbasket.testing.isolation import isolated


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("taskbasket_basket",
                  "module:attribute of the Basket that taskbasket_basket isolates "
                  "(default: a new Basket('memory://') per test)", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "taskbasket_inline: run the test with taskbasket_basket in inline mode")


def _configured_basket(config: pytest.Config) -> Basket | None:
    target = str(config.getini("taskbasket_basket") or "").strip()
    if not target:
        return None
    module_name, _, attribute = target.partition(":")
    if not attribute:
        raise pytest.UsageError(
            f"taskbasket_basket = {target!r}: write module:attribute, e.g. myapp.tasks:basket")
    found: Any = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(found, Basket):
        raise pytest.UsageError(f"taskbasket_basket = {target!r} is {found!r}, not a Basket")
    return found


@pytest.fixture
def taskbasket_clock() -> FakeClock:
    """A fake clock (it starts now and moves only when advanced)."""
    return FakeClock()


@pytest.fixture
def taskbasket_basket(request: pytest.FixtureRequest) -> Iterator[Basket]:
    """A basket on a fresh memory store (see the module's docstring)."""
    clock = (request.getfixturevalue("taskbasket_clock")
             if "taskbasket_clock" in request.fixturenames else None)
    configured = _configured_basket(request.config)
    if configured is not None:
        with isolated(configured, clock=clock) as basket:
            yield from _maybe_inline(request, basket)
        return
    basket = Basket("memory://", clock=clock) if clock is not None else Basket("memory://")
    try:
        yield from _maybe_inline(request, basket)
    finally:
        basket.close()


def _maybe_inline(request: pytest.FixtureRequest, basket: Basket) -> Iterator[Basket]:
    if request.node.get_closest_marker("taskbasket_inline") is None:
        yield basket
        return
    with inline(basket):
        yield basket


@pytest.fixture
def taskbasket_inline(taskbasket_basket: Basket) -> Iterator[Basket]:
    """``taskbasket_basket`` in inline mode: enqueue runs each task at once."""
    if taskbasket_basket.inline_runner is not None:  # the marker did it already
        yield taskbasket_basket
        return
    with inline(taskbasket_basket):
        yield taskbasket_basket
