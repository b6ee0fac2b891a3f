"""PostgreSQL test stores behind PgBouncer in transaction mode (issue #25): a new schema
per test in the shared server's database, reached through the test run's own PgBouncer
(``tests/servers/pgbouncer.py``) with ``?pooler=transaction``, and no ``listen_url``, so
workers pick tasks up by polling. ``postgres-pgbouncer-listen`` adds ``listen_url`` (the
direct server), so workers are woken through LISTEN.

The helpers that reach the store's database outside taskbasket (dropping, cutting
connections) use the direct server; an application's own connection goes through
PgBouncer, without prepared statements, as an application behind it would.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from tests.servers.pgbouncer import PrivatePgBouncer, shared_pgbouncer
from tests.stores.postgres import BASE_URL, PostgresFactory, split_url


@cache
def _unavailable() -> str | None:
    return PostgresFactory().unavailable() or PrivatePgBouncer.missing()


def direct_url(url: str) -> str:
    """``url`` (of a store behind PgBouncer) as the direct server's URL, same schema."""
    _, schema = split_url(url)
    separator = "&" if urlsplit(BASE_URL).query else "?"
    return f"{BASE_URL}{separator}schema={schema}"


class PgBouncerFactory(PostgresFactory):
    name = "postgres-pgbouncer"
    listen = False

    def unavailable(self) -> str | None:
        return _unavailable()

    def create(self, tag: str) -> str:
        database = urlsplit(BASE_URL).path.lstrip("/") or "postgres"
        url = f"{shared_pgbouncer().url(database)}?schema=tb_{tag[:50]}&pooler=transaction"
        if self.listen:
            url += f"&listen_url={quote(BASE_URL, safe='')}"
        return url

    def drop(self, url: str) -> None:
        super().drop(direct_url(url))

    def kill_connections(self, url: str) -> int:
        """Terminate the server connections that carry this store's ``application_name``
        (PgBouncer's to the server, the LISTEN connection), from the direct server."""
        name = dict(parse_qsl(urlsplit(url).query)).get("application_name")
        direct = direct_url(url) + (f"&application_name={name}" if name else "")
        return super().kill_connections(direct)

    def app_connection(self, url: str) -> Any:
        """The application's own connection, through PgBouncer: no prepared statements."""
        import psycopg

        return psycopg.connect(split_url(url)[0], prepare_threshold=None)


FACTORY = PgBouncerFactory()
