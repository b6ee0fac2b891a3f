"""PostgreSQL test stores: a new schema per test in one database.

The server is ``$TASKBASKET_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

BASE_URL = os.environ.get(
    "TASKBASKET_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


_OURS = ("schema", "pooler", "listen_url", "pool_min_size", "pool_max_size", "pool_timeout")
"""taskbasket's own options, which libpq refuses."""


def split_url(url: str) -> tuple[str, str]:
    """(the URL for libpq: without taskbasket's own options, the schema)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = dict(query).get("schema", "taskbasket")
    rest = urlencode([(k, v) for k, v in query if k not in _OURS])
    # written out: urlunsplit drops the "//" of a URL with no host (a local socket)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{rest}" if rest else ""), schema


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
        """Terminate the connections of this store's clients (for chaos): those whose
        ``application_name`` is the one ``url`` sets; other clients of the server, other
        tests' included, are left alone."""
        import psycopg

        base, _ = split_url(url)
        name = dict(parse_qsl(urlsplit(base).query)).get("application_name", "")
        if not name.startswith("tb_"):
            raise ValueError("refusing to cut connections of a URL that sets no "
                             "application_name=tb_...: that would cut every client of the "
                             "database, other tests' too")
        with psycopg.connect(base, autocommit=True, application_name="tb_admin") as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name = %s", (name,)).fetchone()
        return int(row[0]) if row else 0

    def app_connection(self, url: str) -> Any:
        """The application's own connection to the store's database (not autocommit)."""
        import psycopg

        return psycopg.connect(split_url(url)[0])

    def sqlalchemy_url(self, url: str, asynchronous: bool = False) -> str:
        """The store's database as a SQLAlchemy URL on psycopg 3 (its async driver too:
        ``postgresql+psycopg`` serves ``create_async_engine`` as well)."""
        base = split_url(url)[0]
        return "postgresql+psycopg://" + base.split("://", 1)[1]


FACTORY = PostgresFactory()
