"""DjangoBasket: a Basket configured from Django's settings that joins Django's transactions.

Without ``TASKBASKET["URL"]`` the store is the project's own database, and an enqueue
inside ``transaction.atomic()`` runs on Django's connection of that database, in its
transaction: the task exists if and only if the transaction commits. Outside an atomic
block, an enqueue commits at once (on the store's own connection), as Django's
autocommit does. With a ``URL`` of another store, enqueues never join Django's
transactions; enqueue in ``transaction.on_commit`` there if a task must wait for one.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Generator, Mapping, Sequence
from typing import Any

from django.db import close_old_connections, connections

from taskbasket.basket import Basket
from taskbasket.context import TaskContext
from taskbasket.contrib.django.config import Settings, database_url
from taskbasket.definition import EnqueueOptions
from taskbasket.errors import ConfigurationError
from taskbasket.task import TaskRef


class DjangoBasket(Basket):
    """A Basket whose store is a Django database (``database``) unless ``url`` names one.

    The URL of the database is read from ``connections[database].settings_dict`` when the
    store opens (on first use), so a basket created at import time uses the test
    database under Django's test runner. Handlers run between ``close_old_connections()``
    calls, as Django's request cycle does, so a worker never reuses a broken connection.
    """

    def __init__(
        self, url: str | None = None, *, database: str = "default", **options: Any
    ) -> None:
        self.database = database
        self._explicit_url = url
        super().__init__(url or self._database_url(), **options)
        self._url: str | None = url  # None: follow the database until the store opens
        self.middleware(_django_connections)

    @classmethod
    def from_settings(cls, settings: Settings) -> DjangoBasket:
        """The basket the ``TASKBASKET`` setting describes."""
        extra: dict[str, Any] = dict(settings.options)
        if settings.default_queue is not None:
            extra["default_queue"] = settings.default_queue
        return cls(settings.url, database=settings.database, **extra)

    def _database_url(self) -> str:
        if self.database not in connections:
            raise ConfigurationError(
                f"TASKBASKET['DATABASE'] is {self.database!r}, which DATABASES does not "
                f"have; it has {', '.join(connections) or 'none'}"
            )
        return database_url(self.database, connections[self.database].settings_dict)

    @property
    def url(self) -> str:
        """The store's URL: the one given, else the Django database's (current) URL."""
        return self._url if self._url is not None else self._database_url()

    @url.setter
    def url(self, value: str) -> None:
        self._url = value

    @property
    def uses_django_database(self) -> bool:
        """True when the store is the Django database, so enqueues join its transactions."""
        return self._explicit_url is None

    def use_url(self, url: str) -> None:
        """Point this basket at another store (``--url``): it no longer joins Django's
        transactions."""
        super().use_url(url)
        self._explicit_url = url

    @property
    def backend(self) -> Any:
        if self._backend is None and self._url is None:
            self._url = self._database_url()  # fixed from here on
        return Basket.backend.fget(self)  # type: ignore[attr-defined]

    def enqueue_calls(
        self,
        name: str,
        calls: Sequence[tuple[Sequence[Any], Mapping[str, Any]]],
        options: EnqueueOptions,
    ) -> list[TaskRef]:
        """As :meth:`Basket.enqueue_calls`, on Django's connection inside an atomic block."""
        if options.connection is None:
            connection = self._atomic_connection()
            if connection is not None:
                options = dataclasses.replace(options, connection=connection)
        return super().enqueue_calls(name, calls, options)

    def _atomic_connection(self) -> Any:
        """The DB-API connection of Django's open atomic block on the store's database in
        this thread, or None when there is none (or the store is elsewhere)."""
        if self._explicit_url is not None:
            return None
        django_connection = connections[self.database]
        if not django_connection.in_atomic_block:
            return None
        self.backend  # noqa: B018 - opens the store, so that the URLs can be compared
        if self._url != self._database_url():
            raise ConfigurationError(
                f"the store was opened on {self._url} but DATABASES[{self.database!r}] is "
                f"now {self._database_url()}: enqueueing in this transaction would store "
                "tasks in another database. Open the basket after the test database is "
                "set up, or set TASKBASKET['URL']"
            )
        django_connection.ensure_connection()
        raw = django_connection.connection
        if django_connection.vendor == "mysql" and type(raw).__module__.startswith("MySQLdb"):
            raise ConfigurationError(
                "Django's MySQL connection uses mysqlclient (MySQLdb), and taskbasket's MySQL "
                "store joins PyMySQL connections only. Make Django use PyMySQL: at the top "
                "of settings.py, `from taskbasket.contrib.django import use_pymysql; "
                "use_pymysql()`; or set TASKBASKET['URL'] to enqueue outside Django's "
                "transactions"
            )
        return raw


def _django_connections(task: TaskContext) -> Generator[None, None, None]:
    """Close Django's broken or expired connections before and after every task, as
    Django does around a request (async handlers' loop thread holds none); never while
    this thread is inside a transaction (a handler run inline, in a test's ``TestCase``:
    closing would end the test's transaction)."""
    sync = not _in_event_loop()
    if sync:
        _close_old_connections()
    try:
        yield
    finally:
        if sync:
            _close_old_connections()


def _close_old_connections() -> None:
    if any(conn.in_atomic_block for conn in connections.all(initialized_only=True)):
        return
    close_old_connections()


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
