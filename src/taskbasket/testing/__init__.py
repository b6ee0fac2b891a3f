"""Helpers for tests and scripts that use taskbasket; importable without pytest.

- ``isolated(basket)``: the basket on a fresh ``memory://`` store for a block;
- ``assert_enqueued``, ``refute_enqueued``, ``enqueued``: what code under test enqueued;
- ``drain`` / ``drain_async``: run every due task here and now;
- ``inline(basket)``: enqueue runs each task at once, in this thread;
- ``FakeClock``: time that moves when a test says so (``Basket("memory://", clock=...)``);
- ``fire_schedules(basket)``: fire the due slots of its schedules, as a worker would.

The pytest plugin (``taskbasket.testing.pytest_plugin``) turns these into fixtures.
"""

from taskbasket.testing.assertions import assert_enqueued, enqueued, refute_enqueued
from taskbasket.testing.clock import FakeClock
from taskbasket.testing.draining import DrainLimitError, DrainSummary, drain, drain_async
from taskbasket.testing.inline import inline
from taskbasket.testing.isolation import isolated
from taskbasket.testing.schedules import fire_schedules

__all__ = ["DrainLimitError", "DrainSummary", "FakeClock", "assert_enqueued", "drain",
           "drain_async", "enqueued", "fire_schedules", "inline", "isolated", "refute_enqueued"]
