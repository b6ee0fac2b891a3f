"""The MySQL store's URL and options, read once into ``Settings``: where the server is,
who connects, the bounds of the pool and of each wait, TLS, and the tables' names.

``mysql://user:password@host:3306/database?table_prefix=taskbasket_`` (also ``mariadb://``
and ``mysql+pymysql://``); every option may be given as a keyword argument too.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from taskbasket.backends.options import (
    StoreOption,
    StoreOptions,
    as_bool,
    as_int,
    as_seconds,
    as_text,
)
from taskbasket.errors import ConfigurationError
from taskbasket.redaction import redact_url

SCHEMES = ("mysql", "mariadb", "mysql+pymysql", "mariadb+pymysql")
_PREFIX = re.compile(r"^[A-Za-z0-9_]{0,40}$")
_SSL_FILES = ("ssl_ca", "ssl_cert", "ssl_key")

OPTIONS = StoreOptions("MySQL", [
    StoreOption("table_prefix", "taskbasket_",
                "prefix of the table names (letters, digits, _)", as_text),
    StoreOption("pool_size", 10, "most connections this process opens", as_int(1)),
    StoreOption("pool_timeout", 30.0, "seconds to wait for a free connection", as_seconds()),
    StoreOption("connect_timeout", 10.0, "seconds to connect, handshake included",
                as_seconds()),
    StoreOption("read_timeout", 120.0, "seconds to wait for a reply", as_seconds()),
    StoreOption("write_timeout", 120.0, "seconds to wait to send", as_seconds()),
    StoreOption("lock_wait_timeout", 10, "innodb_lock_wait_timeout of the store's sessions",
                as_int(1)),
    StoreOption("wake_interval", 0.1, "seconds between an idle worker's checks for tasks "
                "stored by other processes; 0 for plain polling", as_seconds(allow_zero=True)),
    StoreOption("unix_socket", None,
                "path of the server's Unix socket, instead of host and port", as_text),
    StoreOption("ssl_ca", None, "CA file to verify the server with (turns TLS on)", as_text),
    StoreOption("ssl_cert", None, "client certificate file", as_text),
    StoreOption("ssl_key", None, "client key file", as_text),
    StoreOption("ssl_verify_cert", None, "true or false; default true when ssl_ca is set",
                as_bool),
    StoreOption("ssl_verify_identity", None, "true or false: check the server's host name; "
                "default true when ssl_ca is set", as_bool),
])


@dataclass(frozen=True)
class Settings:
    """Everything the store needs to know from its URL and options, checked."""

    url: str
    database: str
    host: str
    port: int
    unix_socket: str | None
    user: str | None
    password: str
    table_prefix: str
    pool_size: int
    pool_timeout: float
    connect_timeout: float
    read_timeout: float
    write_timeout: float
    lock_wait_timeout: int
    wake_interval: float
    ssl: dict[str, Any] | None
    """PyMySQL's ``ssl`` argument; None without TLS."""
    ssl_verify_cert: bool | None

    @property
    def where(self) -> str:
        """The server, for error texts: its socket, or host and port."""
        if self.unix_socket:
            return f"unix socket {self.unix_socket}"
        return f"{self.host}:{self.port}"

    def _qualified(self, table: str) -> str:
        database = "`" + self.database.replace("`", "``") + "`"
        return f"{database}.`{self.table_prefix}{table}`"

    @property
    def tasks_table(self) -> str:
        return self._qualified("tasks")

    @property
    def versions_table(self) -> str:
        return self._qualified("schema_version")

    @property
    def leaders_table(self) -> str:
        return self._qualified("leaders")

    @property
    def schedules_table(self) -> str:
        return self._qualified("schedules")

    @property
    def dependencies_table(self) -> str:
        return self._qualified("dependencies")

    @property
    def queues_table(self) -> str:
        return self._qualified("queues")

    @property
    def starts_table(self) -> str:
        return self._qualified("starts")

    @property
    def workers_table(self) -> str:
        return self._qualified("workers")

    @property
    def migration_lock(self) -> str:
        """The server-wide GET_LOCK name that serialises migrations of this store."""
        digest = hashlib.sha1(f"{self.database}.{self.table_prefix}".encode()).hexdigest()
        return f"taskbasket.migrate.{digest[:32]}"


def read_settings(url: str, keywords: dict[str, Any]) -> Settings:
    """The settings of ``url`` with ``keywords``; a ConfigurationError that names the fix
    for a URL that is no MySQL URL, names no database, or has a bad option."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise ConfigurationError(
            f"not a MySQL URL: {redact_url(url)!r}; write "
            "mysql://user:password@host:3306/database (mariadb:// and mysql+pymysql:// "
            "work too; the driver is always PyMySQL)"
        )
    try:
        port = parts.port or 3306
    except ValueError:
        raise ConfigurationError(f"bad port in MySQL URL {redact_url(url)!r}") from None
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database or len(database) > 64:
        raise ConfigurationError(
            f"MySQL URL {redact_url(url)!r} names no database: write "
            "mysql://user:password@host:3306/database (create the database first)"
        )
    values, _ = OPTIONS.read(url, keywords)
    prefix = values["table_prefix"]
    if not _PREFIX.match(prefix):
        raise ConfigurationError(
            f"table_prefix={prefix!r}: use up to 40 letters, digits and underscores"
        )
    ssl: dict[str, Any] | None = None
    if any(values[name] is not None for name in _SSL_FILES):
        ssl = {name.removeprefix("ssl_"): values[name] for name in _SSL_FILES if values[name]}
        if values["ssl_verify_identity"] is not None:  # PyMySQL checks it by default with a CA
            ssl["check_hostname"] = values["ssl_verify_identity"]
    return Settings(
        url=url, database=database, host=parts.hostname or "localhost", port=port,
        unix_socket=values["unix_socket"] or None,
        user=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else "",
        table_prefix=prefix, pool_size=values["pool_size"],
        pool_timeout=values["pool_timeout"], connect_timeout=values["connect_timeout"],
        read_timeout=values["read_timeout"], write_timeout=values["write_timeout"],
        lock_wait_timeout=values["lock_wait_timeout"], wake_interval=values["wake_interval"],
        ssl=ssl, ssl_verify_cert=values["ssl_verify_cert"],
    )


__all__ = ["OPTIONS", "SCHEMES", "Settings", "read_settings"]
