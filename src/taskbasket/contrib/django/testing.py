"""``TEST_RUNNER = "taskbasket.contrib.django.testing.TestRunner"``: Django's test runner,
which closes the project's store before it drops the test database.

The store keeps its own connections to the test database (a pool, and the dashboard's
sampler reads through it); PostgreSQL refuses to drop a database that has connections
("is being accessed by other users"), so they are closed first.
"""

from __future__ import annotations

from typing import Any

from django.test.runner import DiscoverRunner


def close_store() -> None:
    """Stop the mounted dashboard's sampler and close the project basket's connections."""
    from taskbasket.contrib import django as integration
    from taskbasket.contrib.django import views

    if views._dashboard is not None:
        views._dashboard.app.state.dashboard.sampler.stop()
        views._dashboard = None
    if integration._basket is not None:
        integration._basket.close()


class TestRunner(DiscoverRunner):
    """``DiscoverRunner`` that calls :func:`close_store` before tearing databases down."""

    def teardown_databases(self, old_config: Any, **kwargs: Any) -> None:
        close_store()
        super().teardown_databases(old_config, **kwargs)
