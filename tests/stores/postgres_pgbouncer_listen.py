"""PostgreSQL test stores behind PgBouncer in transaction mode with ``listen_url``: the
direct server for LISTEN, so workers are woken at once (see ``postgres_pgbouncer``)."""

from __future__ import annotations

from tests.stores.postgres_pgbouncer import PgBouncerFactory


class PgBouncerListenFactory(PgBouncerFactory):
    name = "postgres-pgbouncer-listen"
    listen = True


FACTORY = PgBouncerListenFactory()
