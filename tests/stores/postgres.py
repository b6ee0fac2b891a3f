"""PostgreSQL test stores: a new schema per test in one database.

The server is ``$TASKBASKET_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

BASE_URL = os.environ.get(
    "TASKBASKET_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def split_url(url: str) -> tuple[str, str]:
    """(the URL without our ``schema`` option, the schema)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = dict(query).get("schema", "taskbasket")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), schema


@cache
def _unavailable() -> str | None:
    try:
        import psycopg
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        return f"psycopg 3 and psycopg-pool are not installed ({exc})"
    try:
        with psycopg.connect(BASE_URL, connect_timeout=3):
            pass
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        return f"no PostgreSQL server at {BASE_URL}: {first}"
    return None


class PostgresFactory:
    name = "postgres"

    def unavailable(self) -> str | None:
        return _unavailable()

    def create(self, tag: str) -> str:
        separator = "&" if urlsplit(BASE_URL).query else "?"
        return f"{BASE_URL}{separator}schema=tb_{tag[:50]}"

    def drop(self, url: str) -> None:
        import psycopg
        from psycopg import sql

        base, schema = split_url(url)
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '20s'")
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )

    def kill_connections(self, url: str) -> int:
        """Terminate every other client connection to the test database (for chaos)."""
        import psycopg

        with psycopg.connect(BASE_URL, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            ).fetchone()
        return int(row[0]) if row else 0

    def restart_server(self) -> None:
        """Restart the local cluster for real (for chaos)."""
        import subprocess

        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main",
                        "restart"], check=True, timeout=120, capture_output=True)

    def app_connection(self, url: str) -> Any:
        """The application's own connection to the store's database (not autocommit)."""
        import psycopg

        return psycopg.connect(split_url(url)[0])


FACTORY = PostgresFactory()
