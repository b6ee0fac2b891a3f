"""Django integration: ``INSTALLED_APPS += ["taskbasket.contrib.django"]``.

- ``basket``: the project's Basket, configured from ``settings.TASKBASKET`` (by default the
  project's own database, so there is nothing new to run). Register tasks on it in a
  ``tasks.py`` of any installed app; the app imports every ``tasks.py`` at start.
- Enqueueing inside ``transaction.atomic()`` joins Django's transaction (SQLite,
  PostgreSQL, MySQL/MariaDB): the task exists if and only if the transaction commits.
- ``manage.py migrate`` creates or upgrades the store's schema too; ``manage.py
  taskbasket_worker`` runs a worker; ``manage.py taskbasket ...`` is the ``taskbasket``
  command on this basket.
- ``path("tasks/", include("taskbasket.contrib.django.urls"))`` mounts the dashboard for
  staff users.
- ``use_pymysql()``: Django's MySQL backend on PyMySQL, which the MySQL store joins.
- ``TEST_RUNNER = "taskbasket.contrib.django.testing.TestRunner"`` closes the store before
  the test runner drops the test database (PostgreSQL refuses to drop one in use).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from taskbasket.contrib.django.mysql import use_pymysql

if TYPE_CHECKING:
    from taskbasket.contrib.django.djangobasket import DjangoBasket

__all__ = ["basket", "get_basket", "use_pymysql"]

_lock = threading.Lock()
_basket: DjangoBasket | None = None


def get_basket() -> DjangoBasket:
    """The project's basket, made from ``settings.TASKBASKET`` on first use."""
    global _basket
    if _basket is None:
        with _lock:
            if _basket is None:
                from django.conf import settings

                from taskbasket.contrib.django.config import read_settings
                from taskbasket.contrib.django.djangobasket import DjangoBasket

                _basket = DjangoBasket.from_settings(
                    read_settings(getattr(settings, "TASKBASKET", None)))
    return _basket


def __getattr__(name: str) -> Any:
    if name == "basket":  # made on first access, once the settings are configured
        return get_basket()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
