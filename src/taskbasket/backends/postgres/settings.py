"""How a PostgreSQL store URL and its keyword options become settings: taskbasket's own
options (schema and pool), the libpq parameters that pass through to the connection, the
defaults taskbasket gives libpq, and the names derived from the schema (table, channel).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from taskbasket.backends.options import StoreOption, StoreOptions, as_int, as_seconds
from taskbasket.errors import ConfigurationError
from taskbasket.redaction import redact_text, redact_url

DEFAULT_SCHEMA = "taskbasket"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# (parameter, default, the environment variable that libpq would read instead)
_LIBPQ_DEFAULTS = (
    ("connect_timeout", "10", "PGCONNECT_TIMEOUT"),
    ("application_name", "taskbasket", "PGAPPNAME"),
    # notice a silently dead peer (a LISTEN connection waits on it for ever)
    ("keepalives", "1", None), ("keepalives_idle", "30", None),
    ("keepalives_interval", "10", None), ("keepalives_count", "3", None),
)


def _as_schema(name: str, value: Any) -> str:
    schema = str(value)
    if not _SCHEMA_NAME.match(schema):
        raise ConfigurationError(
            f"schema={schema!r} is not a plain identifier: use letters, "
            "digits and underscores (at most 63, not starting with a digit), "
            "e.g. ?schema=taskbasket"
        )
    return schema


OPTIONS = StoreOptions("PostgreSQL", (
    StoreOption("schema", DEFAULT_SCHEMA, "the schema that holds the store's tables",
                _as_schema),
    StoreOption("pool_min_size", 2, "connections the pool keeps open", as_int(0)),
    StoreOption("pool_max_size", 10, "the most connections the pool opens", as_int(1)),
    StoreOption("pool_timeout", 10.0,
                "the longest an operation waits for a free connection, in seconds",
                as_seconds()),
))
"""taskbasket's own options, in the URL's query string or as keyword arguments; every
other query parameter must be a libpq connection parameter, and goes to libpq."""

_LIBPQ_HELP = ("the others must be libpq connection parameters (sslmode, connect_timeout, "
               "application_name, ...) in the URL's query string")


@dataclass(frozen=True)
class PostgresSettings:
    """Everything a PostgreSQL store needs from its URL and options, checked."""

    url: str
    schema: str
    pool_min_size: int
    pool_max_size: int
    pool_timeout: float
    conninfo: str
    """The URL for libpq: scheme ``postgresql``, without taskbasket's own options."""
    params: dict[str, Any]
    """``conninfo`` parsed by libpq (host, port, dbname, user, ...)."""
    connect_kwargs: dict[str, Any]
    """What every connection is opened with: autocommit and taskbasket's libpq defaults
    that neither the URL nor libpq's environment variables set."""
    quoted_schema: str
    table: str
    channel: str
    """The NOTIFY channel: ``taskbasket.<schema>``, or a digest of a long schema name."""

    def describe(self) -> str:
        """host:port/db (user), for messages; never the password."""
        params = self.params
        host = params.get("host") or os.environ.get("PGHOST") or "localhost"
        port = params.get("port") or os.environ.get("PGPORT") or "5432"
        db = params.get("dbname") or os.environ.get("PGDATABASE") or "(default)"
        user = params.get("user") or os.environ.get("PGUSER") or "(default)"
        return f"{host}:{port}/{db} as user {user}"


def _libpq_names() -> set[str]:
    return {o.keyword.decode() for o in psycopg.pq.Conninfo.get_defaults()}


def read_settings(url: str, keywords: dict[str, Any]) -> PostgresSettings:
    """The settings of ``url`` with ``keywords`` (which win over the query string); a
    ``ConfigurationError`` naming the fix for a wrong URL, name or value."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower().split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise ConfigurationError(f"not a PostgreSQL URL: {redact_url(url)!r}")
    libpq = _libpq_names()
    values, rest = OPTIONS.read(
        url, keywords, passthrough=libpq.__contains__, passthrough_names=sorted(libpq),
        passthrough_help=_LIBPQ_HELP,
    )
    pool_min_size: int = values["pool_min_size"]
    pool_max_size: int = values["pool_max_size"]
    if pool_max_size < max(1, pool_min_size):
        raise ConfigurationError(
            f"pool_max_size ({pool_max_size}) must be >= pool_min_size "
            f"({pool_min_size}) and >= 1"
        )
    # written out, not urlunsplit: that drops the "//" of a URL with no host
    # (postgresql:///db, a local socket), which libpq then refuses
    query = urlencode(rest)
    conninfo = f"postgresql://{parts.netloc}{parts.path}" + (f"?{query}" if query else "")
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        raise ConfigurationError(
            f"PostgreSQL URL {redact_url(url)!r} is not valid: "
            f"{redact_text(str(exc).strip(), url)}"  # libpq may quote the password
        ) from None
    connect_kwargs: dict[str, Any] = {"autocommit": True}
    for key, value, variable in _LIBPQ_DEFAULTS:
        if key not in params and (variable is None or variable not in os.environ):
            connect_kwargs[key] = value

    schema: str = values["schema"]
    quoted = sql.Identifier(schema).as_string(None)
    channel = f"taskbasket.{schema}"
    if len(channel.encode()) > 63:
        channel = f"taskbasket.{hashlib.sha1(schema.encode()).hexdigest()[:20]}"
    return PostgresSettings(
        url=url, schema=schema, pool_min_size=pool_min_size, pool_max_size=pool_max_size,
        pool_timeout=values["pool_timeout"], conninfo=conninfo,
        params=dict(params), connect_kwargs=connect_kwargs,
        quoted_schema=quoted, table=f"{quoted}.tasks", channel=channel,
    )


__all__ = ["DEFAULT_SCHEMA", "OPTIONS", "PostgresSettings", "read_settings"]
