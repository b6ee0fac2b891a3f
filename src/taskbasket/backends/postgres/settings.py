"""How a PostgreSQL store URL and its keyword options become settings: taskbasket's own
options (schema, pool, the pooler in between and the direct URL for LISTEN), the libpq
parameters that pass through to the connection, the defaults taskbasket gives libpq, and
the names derived from the schema (table, channel).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

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


POOLERS = ("none", "session", "transaction")
"""What may sit between taskbasket and the server: nothing (or a pooler in session mode,
which keeps one server connection per client connection, so it is the same) or a pooler
in transaction mode (PgBouncer ``pool_mode = transaction``, the poolers of managed
services), where each transaction may run on another server connection."""


def _as_pooler(name: str, value: Any) -> str:
    pooler = str(value).strip().lower()
    if pooler not in POOLERS:
        raise ConfigurationError(
            f"pooler={value!r} is not one of {', '.join(POOLERS)}: use "
            "?pooler=transaction behind PgBouncer in pool_mode=transaction (or a managed "
            "service's transaction pooler), and leave it out for a direct connection")
    return pooler


def _as_listen_url(name: str, value: Any) -> str:
    listen_url = str(value).strip()
    scheme = urlsplit(listen_url).scheme.lower()
    if scheme not in ("postgresql", "postgres"):
        raise ConfigurationError(
            f"listen_url={redact_url(listen_url)!r} is not a postgresql:// URL: give the "
            "server's direct address (not the pooler's), percent-encoded in the query, "
            "e.g. ?pooler=transaction&listen_url=postgresql%3A%2F%2Fuser%40db-host%3A5432"
            "%2Fdb")
    return listen_url


OPTIONS = StoreOptions("PostgreSQL", (
    StoreOption("schema", DEFAULT_SCHEMA, "the schema that holds the store's tables",
                _as_schema),
    StoreOption("pool_min_size", 2, "connections the pool keeps open", as_int(0)),
    StoreOption("pool_max_size", 10, "the most connections the pool opens", as_int(1)),
    StoreOption("pool_timeout", 10.0,
                "the longest an operation waits for a free connection, in seconds",
                as_seconds()),
    StoreOption("pooler", "none",
                "'transaction' behind a transaction pooler (PgBouncer pool_mode=transaction):"
                " no prepared statements nor session state", _as_pooler),
    StoreOption("listen_url", None,
                "a direct postgresql:// URL (percent-encoded) used only for LISTEN, to "
                "bypass the pooler; without it a worker behind pooler=transaction polls",
                _as_listen_url),
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
    pooler: str
    """``transaction`` behind a transaction pooler, else ``none`` or ``session``."""
    listen_conninfo: str | None
    """The direct URL for LISTEN (``listen_url``, for libpq), or None."""
    listen_connect_kwargs: dict[str, Any]
    """What the LISTEN connection to ``listen_conninfo`` is opened with."""
    quoted_schema: str
    table: str
    channel: str
    """The NOTIFY channel: ``taskbasket.<schema>``, or a digest of a long schema name."""

    @property
    def transaction_pooler(self) -> bool:
        """Whether each transaction may run on another server connection (pooler=transaction)."""
        return self.pooler == "transaction"

    @property
    def can_listen(self) -> bool:
        """Whether LISTEN reaches the server: no transaction pooler, or a ``listen_url``."""
        return not self.transaction_pooler or self.listen_conninfo is not None

    def listen_target(self) -> tuple[str, dict[str, Any]]:
        """(conninfo, connect keyword arguments) of the LISTEN connection."""
        if self.listen_conninfo is not None:
            return self.listen_conninfo, self.listen_connect_kwargs
        return self.conninfo, self.connect_kwargs

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
    conninfo, params = _libpq_url(url, rest)
    pooler: str = values["pooler"]
    connect_kwargs = _connect_kwargs(params, pooler)
    listen_url: str | None = values["listen_url"]
    listen_conninfo: str | None = None
    listen_kwargs = connect_kwargs
    if listen_url is not None:
        listen_parts = urlsplit(listen_url)
        listen_conninfo, listen_params = _libpq_url(
            listen_url, parse_qsl(listen_parts.query, keep_blank_values=True))
        listen_kwargs = _connect_kwargs(listen_params, pooler)

    schema: str = values["schema"]
    quoted = sql.Identifier(schema).as_string(None)
    channel = f"taskbasket.{schema}"
    if len(channel.encode()) > 63:
        channel = f"taskbasket.{hashlib.sha1(schema.encode()).hexdigest()[:20]}"
    return PostgresSettings(
        url=url, schema=schema, pool_min_size=pool_min_size, pool_max_size=pool_max_size,
        pool_timeout=values["pool_timeout"], conninfo=conninfo,
        params=dict(params), connect_kwargs=connect_kwargs, pooler=pooler,
        listen_conninfo=listen_conninfo, listen_connect_kwargs=listen_kwargs,
        quoted_schema=quoted, table=f"{quoted}.tasks", channel=channel,
    )


def _libpq_url(url: str, query_pairs: list[tuple[str, str]]) -> tuple[str, dict[str, Any]]:
    """(the URL for libpq: scheme ``postgresql``, the query ``query_pairs``; it parsed by
    libpq), or a ``ConfigurationError`` saying what libpq refused."""
    parts = urlsplit(url)
    # written out, not urlunsplit: that drops the "//" of a URL with no host
    # (postgresql:///db, a local socket), which libpq then refuses
    query = urlencode(query_pairs)
    conninfo = f"postgresql://{parts.netloc}{parts.path}" + (f"?{query}" if query else "")
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        raise ConfigurationError(
            f"PostgreSQL URL {redact_url(url)!r} is not valid: "
            f"{redact_text(str(exc).strip(), url)}"  # libpq may quote the password
        ) from None
    return conninfo, dict(params)


def _connect_kwargs(params: dict[str, Any], pooler: str) -> dict[str, Any]:
    """Autocommit, taskbasket's libpq defaults that neither the URL nor libpq's environment
    variables set, and, behind a transaction pooler, no server-side prepared statements
    (a statement prepared on one server connection is missing, or already there, on the
    next)."""
    connect_kwargs: dict[str, Any] = {"autocommit": True}
    for key, value, variable in _LIBPQ_DEFAULTS:
        if key not in params and (variable is None or variable not in os.environ):
            connect_kwargs[key] = value
    if pooler == "transaction":
        connect_kwargs["prepare_threshold"] = None
    return connect_kwargs


__all__ = ["DEFAULT_SCHEMA", "OPTIONS", "POOLERS", "PostgresSettings", "read_settings"]
