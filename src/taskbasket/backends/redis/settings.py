"""The Redis store's URL and options: the key prefix is the store's own; redis-py's connection
options may stand in the query and are passed to redis-py as they are. Anything else is
refused with the nearest known name ("did you mean").

``redis://[[user]:password@]host[:port][/db][?prefix=NAME&socket_timeout=...]``
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from taskbasket.backends.base import redact_url
from taskbasket.backends.options import StoreOption, StoreOptions, as_text, close_match
from taskbasket.errors import ConfigurationError

DEFAULT_PREFIX = "taskbasket"

REDIS_QUERY_OPTIONS = frozenset({
    "db", "socket_timeout", "socket_connect_timeout", "socket_read_size", "socket_keepalive",
    "retry_on_timeout", "max_connections", "health_check_interval", "ssl_check_hostname",
    "ssl_min_version", "timeout", "protocol", "client_name", "username", "password",
    "ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_path", "ssl_keyfile", "ssl_certfile",
    "ssl_password",
})
"""redis-py's options that may stand in the URL's query, besides the store's ``prefix``."""

REDIS_KEYWORD_OPTIONS = frozenset({
    "socket_timeout", "socket_connect_timeout", "max_connections", "client_name",
    "health_check_interval",
})
"""redis-py's options that may be given as keyword arguments, besides ``prefix``."""

OPTIONS = StoreOptions("Redis", [
    StoreOption("prefix", DEFAULT_PREFIX, "the key prefix: 1-200 letters, digits, '_', '.' or '-'",
                as_text),
])

_PREFIX = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")


@dataclass(frozen=True)
class RedisSettings:
    """What a Redis URL and the keyword options ask for: the key prefix, the server's
    ``host:port`` for messages, the URLs redis-py gets (the listener's without read
    timeouts) and the keyword options redis-py gets."""

    prefix: str
    where: str
    redis_url: str
    listener_url: str
    client_options: dict[str, Any]


def read_settings(url: str, keywords: dict[str, Any]) -> RedisSettings:
    """The settings of a Redis URL and keyword options; ``ConfigurationError`` names what is
    wrong and the fix."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ConfigurationError(
            f"not a Redis URL: {redact_url(url)!r} (use redis:// or rediss://)"
        )
    own = {"prefix", *REDIS_KEYWORD_OPTIONS}
    unknown = [name for name in keywords if name not in own]
    if unknown:
        raise ConfigurationError(
            f"unknown Redis store option(s) {', '.join(close_match(k, own) for k in unknown)}; "
            f"the Redis store takes {', '.join(sorted(own))}"
        )
    values, rest = OPTIONS.read(
        url, {}, passthrough=REDIS_QUERY_OPTIONS.__contains__,
        passthrough_names=REDIS_QUERY_OPTIONS,
        passthrough_help=f"and redis-py's {', '.join(sorted(REDIS_QUERY_OPTIONS))}",
    )
    _check_database(url, parts.path)
    client_options = dict(keywords)
    in_url = any(name == "prefix" for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    prefix = _prefix(values["prefix"] if in_url else None, client_options.pop("prefix", None))
    try:
        port = parts.port or 6379
    except ValueError as exc:
        raise ConfigurationError(f"bad port in the Redis URL {redact_url(url)!r}: {exc}") from exc
    # the listener blocks in BLPOP for up to LISTEN_SLICE: its reads need a longer timeout
    listener_query = [(k, v) for k, v in rest if k not in ("socket_timeout", "timeout")]
    return RedisSettings(
        prefix=prefix,
        where=f"{parts.hostname or 'localhost'}:{port}",
        redis_url=urlunsplit(parts._replace(query=urlencode(rest))),
        listener_url=urlunsplit(parts._replace(query=urlencode(listener_query))),
        client_options=client_options,
    )


def _prefix(in_url: str | None, as_keyword: Any) -> str:
    """The key prefix given once, in the URL or as a keyword (or the default), if valid."""
    if in_url is not None and as_keyword is not None and as_keyword != in_url:
        raise ConfigurationError(
            f"two key prefixes: {in_url!r} in the URL and {as_keyword!r} as an option; give one"
        )
    prefix = in_url if in_url is not None else as_keyword
    prefix = DEFAULT_PREFIX if prefix is None else prefix
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise ConfigurationError(
            f"Redis key prefix {prefix!r} is invalid: use 1-200 letters, digits, '_', '.' "
            "or '-' (no ':', so that two prefixes never share keys), e.g. ?prefix=myapp"
        )
    return prefix


def _check_database(url: str, path: str) -> None:
    """The URL's path is empty or ``/N``, a database number; anything else is refused
    (redis-py would quietly use database 0 for ``/five``)."""
    number = path[1:] if path.startswith("/") else path
    if number and not number.isdigit():
        raise ConfigurationError(
            f"the Redis URL {redact_url(url)!r} names database {number!r}: the path must be "
            "a database number, e.g. redis://host:6379/0 (or nothing, for database 0)"
        )


__all__ = ["DEFAULT_PREFIX", "OPTIONS", "REDIS_KEYWORD_OPTIONS", "REDIS_QUERY_OPTIONS",
           "RedisSettings", "read_settings"]
