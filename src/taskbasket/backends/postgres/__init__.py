"""PostgreSQL: the main multi-host store. Many workers on many hosts share one database.

Everything lives in one schema (``?schema=`` in the URL, default ``taskbasket``), created
and upgraded by versioned migrations under an advisory lock, so many workers starting at
once are safe. The server's clock (``now()``) drives leases and schedules.

Hot paths take one round trip each: a claim is ``UPDATE ... FROM (SELECT ... FOR UPDATE
SKIP LOCKED LIMIT n)`` walking a partial index of pending tasks, so its cost does not grow
with finished rows (it lives in the ``claim()`` function of the schema, whose settings pin
that plan); heartbeats and outcomes are recorded for a whole batch with ``unnest``; an
insert is one statement that also queues a ``NOTIFY``, delivered when it commits. Idle
workers ``LISTEN`` on a dedicated connection.

Connections come from a ``psycopg_pool.ConnectionPool`` opened on first use. A connection
that the server dropped (restart, ``pg_terminate_backend``) is noticed without a round trip
before it is handed out; during an outage operations raise ``psycopg.OperationalError``
(the worker retries with backoff) and they work again once the server is back.

The package, one job a module: ``settings`` (URL and options), ``connections`` (pool,
direct connections), ``schema`` and ``migrations/`` (the numbered migration files),
``statements`` (every statement's text), ``filters``, ``rows``, ``inserts``, ``listener``
and ``backend`` (the ``Backend`` itself).
"""

from taskbasket.backends.postgres.backend import PostgresBackend
from taskbasket.backends.postgres.inserts import COPY_THRESHOLD
from taskbasket.backends.postgres.listener import PostgresListener
from taskbasket.backends.postgres.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["COPY_THRESHOLD", "MIGRATIONS", "SCHEMA_VERSION", "PostgresBackend",
           "PostgresListener"]
