"""The Django app: imports every installed app's ``tasks.py`` and migrates the store with
``manage.py migrate``."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TaskbasketConfig(AppConfig):
    """``taskbasket.contrib.django`` in ``INSTALLED_APPS``."""

    name = "taskbasket.contrib.django"
    label = "taskbasket"
    verbose_name = "taskbasket"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("tasks")
        post_migrate.connect(migrate_store, sender=self,
                             dispatch_uid="taskbasket.contrib.django.migrate_store")


def migrate_store(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """After ``manage.py migrate`` of the store's database (the test runner's too), create
    or upgrade the store's own schema; its SQL lives in taskbasket, not in Django
    migrations, so there is one source for it."""
    from taskbasket.contrib.django import get_basket

    basket = get_basket()
    if basket.uses_django_database and using == basket.database:
        basket.migrate()
