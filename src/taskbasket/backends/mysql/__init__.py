"""MySQL 8 / MariaDB 10.6+: a multi-host store for shops that already run MySQL.

Workers on many hosts claim with ``SELECT ... FOR UPDATE SKIP LOCKED`` in short READ
COMMITTED transactions, so claimers never wait on each other. The server's clock
(``UTC_TIMESTAMP(6)``, the UTC reading of ``NOW(6)``) drives leases and schedules, so hosts
with skewed clocks agree. MySQL has no partial indexes: a stored generated column holds a
task's unique key only while the task is not final, and a UNIQUE index on it keeps keys
unique among live tasks; another generated column leads the claim index, so finished rows
pile up outside the range a claim scans.

Deadlocks and lock-wait timeouts are retried here with a short backoff. A broken connection
(server restart, ``KILL``) is dropped from the pool and the operation is retried once on a
fresh one where that is safe; otherwise the error surfaces as ``BackendUnavailableError``
and the worker retries with its own backoff. MySQL has no notifications: an idle worker
reads the newest task id every ``wake_interval`` (0.1 s) and claims when it changed; a
producer in the same process wakes its workers at once.

The package: ``settings`` (URL and options), ``connection`` and ``pool`` (connections),
``session`` (one operation's statements, and its retries), ``server_errors`` (error codes
and what the user is told), ``schema`` and ``migrations/`` (the numbered ``.sql`` files),
``statements`` and ``values`` (SQL texts and literals), ``inserts``, ``outcomes`` and
``listener``, and ``backend`` (``MySQLBackend``).
"""

from __future__ import annotations

from taskbasket.backends.mysql.backend import MySQLBackend
from taskbasket.backends.mysql.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "MySQLBackend"]
