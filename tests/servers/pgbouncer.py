"""A PgBouncer of the test run's own, in ``pool_mode = transaction``, in front of the shared
PostgreSQL (``TASKBASKET_TEST_POSTGRES``): what most production PostgreSQL sits behind.

Debian's ``pgbouncer`` (``make test-tools`` installs it) runs on a free port with its
config, log and pid file in a folder of its own, trust authentication for the users of
its ``userlist.txt``, and an admin console (database ``pgbouncer``) for ``SHOW`` commands.
As root (PgBouncer refuses to run as root) it runs as the ``postgres`` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.servers import PrivateServer
from tests.servers.postgres import as_postgres_user, postgres_user_missing

USER = "postgres"
POOL_SIZE = 20
"""Server connections per (database, user): the shared server serves other tests too."""


class PrivatePgBouncer(PrivateServer):
    """PgBouncer in transaction mode on a free port, forwarding every database to the
    PostgreSQL server at ``server_url``."""

    name = "pgbouncer"

    def __init__(self, folder: Path, server_url: str, pool_size: int = POOL_SIZE) -> None:
        super().__init__(folder)
        self.pool_size = pool_size
        parts = urlsplit(server_url)
        self.server_host = parts.hostname or "127.0.0.1"
        self.server_port = parts.port or 5432
        self._as = as_postgres_user(self.folder)

    @staticmethod
    def missing() -> str | None:
        """What this machine lacks to run a private PgBouncer, or None."""
        if shutil.which("pgbouncer") is None and not Path("/usr/sbin/pgbouncer").exists():
            return "pgbouncer is not installed (make test-tools: apt-get install pgbouncer)"
        return postgres_user_missing()

    @property
    def config_path(self) -> Path:
        return self.folder / "pgbouncer.ini"

    def prepare(self) -> None:
        (self.folder / "userlist.txt").write_text(f'"{USER}" ""\n')
        self.config_path.write_text("\n".join([
            "[databases]",
            f"* = host={self.server_host} port={self.server_port}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            "auth_type = trust",
            f"auth_file = {self.folder / 'userlist.txt'}",
            f"admin_users = {USER}",
            "pool_mode = transaction",
            f"default_pool_size = {self.pool_size}",
            "max_client_conn = 1000",
            "server_reset_query =",
            # keep every server connection (and what was prepared on it) to be inspected
            "server_idle_timeout = 0",
            "server_lifetime = 86400",
            f"logfile = {self.folder / 'pgbouncer-own.log'}",
            f"pidfile = {self.folder / 'pgbouncer.pid'}",
            "",
        ]))
        if self._as:
            user = pwd.getpwnam("postgres")
            for path in self.folder.iterdir():
                os.chown(path, user.pw_uid, user.pw_gid)

    def command(self) -> list[str]:
        program = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        return [*self._as, program, str(self.config_path)]

    def url(self, database: str) -> str:
        """The URL of ``database`` through this PgBouncer."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def admin_url(self) -> str:
        """The URL of the admin console (``SHOW STATS``, ``SHOW SERVERS``...)."""
        return self.url("pgbouncer")

    def show(self, what: str) -> list[dict[str, Any]]:
        """The rows of the admin console's ``SHOW <what>``, as dicts."""
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.admin_url(), autocommit=True, row_factory=dict_row) as conn:
            return conn.execute(f"SHOW {what}".encode()).fetchall()

    def prepared_statements(self) -> dict[str, int]:
        """The statements prepared on the server connections PgBouncer holds, per database,
        read from each of them: as many clients as a database's pool has server
        connections each hold a transaction open, so each is linked to a different one."""
        import psycopg

        counts: dict[str, int] = {}
        databases = {row["database"] for row in self.show("SERVERS")}
        for database in sorted(databases - {"pgbouncer"}):
            servers = sum(1 for row in self.show("SERVERS") if row["database"] == database)
            clients = [psycopg.connect(self.url(database), prepare_threshold=None)
                       for _ in range(servers)]
            try:
                seen: dict[int, int] = {}
                for client in clients:  # each in its own open transaction
                    row = client.execute("SELECT pg_backend_pid(), count(*) "
                                         "FROM pg_prepared_statements").fetchone()
                    assert row is not None
                    seen[int(row[0])] = int(row[1])
                assert len(seen) == servers, (database, servers, seen)
                counts[database] = sum(seen.values())
            finally:
                for client in clients:
                    client.close()
        return counts


_shared: PrivatePgBouncer | None = None
_shared_lock = threading.Lock()


def shared_pgbouncer() -> PrivatePgBouncer:
    """The test run's PgBouncer in front of the shared PostgreSQL, started on first use;
    ``stop_shared_pgbouncer`` (the session fixture in tests/conftest.py) stops it."""
    global _shared
    from tests.stores.postgres import BASE_URL

    with _shared_lock:
        if _shared is None or not _shared.running():
            bouncer = PrivatePgBouncer(Path(tempfile.mkdtemp(prefix="tb-pgbouncer-")),
                                       BASE_URL)
            bouncer.start()
            _shared = bouncer
        return _shared


def stop_shared_pgbouncer() -> dict[str, int]:
    """Stop the test run's PgBouncer, if it was started, and remove its folder; the
    statements that were prepared on its server connections, per database."""
    global _shared
    with _shared_lock:
        bouncer, _shared = _shared, None
    if bouncer is None:
        return {}
    try:
        return bouncer.prepared_statements() if bouncer.running() else {}
    finally:
        bouncer.close()
        shutil.rmtree(bouncer.folder, ignore_errors=True)
