"""MySQL / MariaDB test stores: a new database ``tb_<tag>`` per test.

The server is ``$TASKBASKET_TEST_MYSQL_URL`` (default ``mysql://root@127.0.0.1:3306``); the
user needs the right to create and drop databases.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any
from urllib.parse import unquote, urlsplit

SERVER_URL = os.environ.get("TASKBASKET_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")


def _params(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username) if parts.username else "root",
        "password": unquote(parts.password) if parts.password else "",
        "charset": "utf8mb4",
        "connect_timeout": 5,
    }


def connect(url: str = SERVER_URL, **options: Any) -> Any:
    """A plain PyMySQL connection to the server of ``url`` (and its database, if any)."""
    import pymysql

    params = _params(url)
    database = unquote(urlsplit(url).path.lstrip("/"))
    if database:
        params["database"] = database
    params.update(options)
    return pymysql.connect(**params)


class MySQLFactory:
    name = "mysql"

    def __init__(self) -> None:
        self._reason: str | None = None
        self._checked = False

    def unavailable(self) -> str | None:
        if self._checked:
            return self._reason
        self._checked = True
        try:
            import pymysql
        except ImportError:
            self._reason = "PyMySQL is not installed (pip install 'taskbasket[mysql]')"
            return self._reason
        try:
            conn = connect()
        except pymysql.err.MySQLError as exc:
            where = "{host}:{port}".format(**_params(SERVER_URL))
            self._reason = f"no MySQL/MariaDB server at {where} ({exc})"
            return self._reason
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION()")
                row = cur.fetchone()
        finally:
            conn.close()
        version = str(row[0]) if row else ""
        if not _supports_skip_locked(version):
            self._reason = f"server {version} lacks SKIP LOCKED (needs MySQL 8 or MariaDB 10.6+)"
        return self._reason

    def create(self, tag: str) -> str:
        database = f"tb_{re.sub(r'[^a-z0-9_]', '_', tag.lower())}"[:64]
        conn = connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
        finally:
            conn.close()
        return f"{SERVER_URL.rstrip('/')}/{database}"

    def drop(self, url: str) -> None:
        database = unquote(urlsplit(url).path.lstrip("/"))
        if not database.startswith("tb_"):
            return
        conn = connect()
        try:
            with conn.cursor() as cur:
                # connections a test left open would hold the server's connection slots
                cur.execute(
                    "SELECT id FROM information_schema.PROCESSLIST WHERE db = %s "
                    "AND id <> CONNECTION_ID()",
                    (database,),
                )
                for (thread_id,) in cur.fetchall():
                    with contextlib.suppress(Exception):
                        cur.execute(f"KILL {int(thread_id)}")
                cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
        finally:
            conn.close()

    def app_connection(self, url: str) -> Any:
        """The application's own connection to the store's database, for transactions."""
        return connect(url)

    def sqlalchemy_url(self, url: str, asynchronous: bool = False) -> str:
        """The store's database as a SQLAlchemy URL on PyMySQL (utf8mb4, as the store
        requires of an application's connection)."""
        if asynchronous:
            raise ValueError("no async MySQL driver in the test extras")
        return "mysql+pymysql://" + url.split("://", 1)[1] + "?charset=utf8mb4"

    def kill_connections(self, url: str) -> int:
        """KILL every other connection to the store's database (the workers'), on the
        store's own server, for chaos; other databases' clients are left alone."""
        database = unquote(urlsplit(url).path.lstrip("/"))
        if not database.startswith("tb_"):
            raise ValueError(f"refusing to cut the connections of {database!r}: not a test "
                             "database made by tests/stores or tests/servers")
        conn = connect(url)
        killed = 0
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT id FROM information_schema.PROCESSLIST WHERE db = %s "
                    "AND id <> CONNECTION_ID()", (database,))
                for (thread_id,) in cur.fetchall():
                    with contextlib.suppress(Exception):
                        cur.execute(f"KILL {int(thread_id)}")
                        killed += 1
        finally:
            conn.close()
        return killed


def _supports_skip_locked(version: str) -> bool:
    match = re.match(r"(\d+)\.(\d+)", version)
    if not match:
        return True
    major, minor = int(match.group(1)), int(match.group(2))
    if "mariadb" in version.lower():
        return (major, minor) >= (10, 6)
    return major >= 8


FACTORY = MySQLFactory()
