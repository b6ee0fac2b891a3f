"""SQLite: the embedded, zero-setup store, shared safely by many worker processes on one host.

WAL journal, a busy timeout and short ``BEGIN IMMEDIATE`` write transactions let several
processes claim from one file. ``synchronous=NORMAL`` (the default) survives any process
crash; add ``?synchronous=FULL`` to the URL to survive power loss as well. SQLite has no
server clock: this host's clock drives leases, which is right for a single-host store.

The package: ``backend.py`` (the Backend methods), ``connections.py`` (per-thread
connections, WAL, busy timeout, errors explained), ``settings.py`` (the URL and options),
``schema.py`` with ``migrations/`` (tables and schema versions), ``statements.py`` (the
SQL) and ``rows.py`` (rows as tasks).
"""

from __future__ import annotations

from taskbasket.backends.sqlite.backend import SQLiteBackend
from taskbasket.backends.sqlite.schema import LEADERS, MIGRATIONS, SCHEMA_VERSION, TABLE
from taskbasket.backends.sqlite.statements import claim_sql

__all__ = ["LEADERS", "MIGRATIONS", "SCHEMA_VERSION", "TABLE", "SQLiteBackend", "claim_sql"]
