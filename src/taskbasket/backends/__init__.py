"""Opening a store by URL. Each backend module is imported only when its scheme is used."""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

from taskbasket.backends.base import Backend
from taskbasket.errors import BackendUnavailableError, ConfigurationError
from taskbasket.redaction import redact_url, remember_secrets

# scheme -> (module, class, the extra that installs its driver)
BACKENDS: dict[str, tuple[str, str, str | None]] = {
    "sqlite": ("taskbasket.backends.sqlite", "SQLiteBackend", None),
    "postgresql": ("taskbasket.backends.postgres", "PostgresBackend", "postgres"),
    "postgres": ("taskbasket.backends.postgres", "PostgresBackend", "postgres"),
    "mysql": ("taskbasket.backends.mysql", "MySQLBackend", "mysql"),
    "mariadb": ("taskbasket.backends.mysql", "MySQLBackend", "mysql"),
    "redis": ("taskbasket.backends.redis", "RedisBackend", "redis"),
    "rediss": ("taskbasket.backends.redis", "RedisBackend", "redis"),
    "amqp": ("taskbasket.backends.bus.amqp", "AmqpBackend", "amqp"),
    "nats": ("taskbasket.backends.bus.nats", "NatsBackend", "nats"),
    "file": ("taskbasket.backends.lines", "FileBackend", None),
    "stdin": ("taskbasket.backends.lines", "StreamBackend", None),
    "stdout": ("taskbasket.backends.lines", "StreamBackend", None),
    "memory": ("taskbasket.backends.memory", "MemoryBackend", None),
}

DEFAULT_URL = "sqlite:///taskbasket.db"
URL_PRECEDENCE = (
    "The store URL is, first found: the URL given explicitly (taskbasket --url, "
    "basket.use_url), the URL in code (Basket(url), the --app basket's), $TASKBASKET_URL, "
    f"then {DEFAULT_URL}."
)
"""The one rule for the store URL, for the library and the command line alike."""


def open_backend_check(url: str) -> str:
    """The scheme of ``url`` if taskbasket has a store for it; else a ConfigurationError.

    Its secrets are remembered, so that no error or log line of this process shows them.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(
            f"store URL must be a non-empty string like {DEFAULT_URL!r}, got {url!r}"
        )
    remember_secrets(url)
    scheme = urlsplit(url).scheme.lower()
    if "+" in scheme:  # postgresql+psycopg://, mysql+pymysql:// as SQLAlchemy writes them
        scheme = scheme.split("+", 1)[0]
    entry = BACKENDS.get(scheme)
    if entry is None:
        supported = ", ".join(f"{s}://" for s in sorted(BACKENDS))
        shown = f"scheme {scheme!r}" if scheme else "no scheme"
        raise ConfigurationError(
            f"unsupported store URL {redact_url(url)!r} ({shown}); supported schemes: "
            f"{supported}. "
            f"Example: {DEFAULT_URL}"
        )
    return scheme


def open_backend(url: str, **options: Any) -> Backend:
    """Open the store that ``url`` names; the error for a bad URL lists the good ones."""
    scheme = open_backend_check(url)
    module_name, class_name, extra = BACKENDS[scheme]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"pip install 'taskbasket[{extra}]'" if extra else "reinstall taskbasket"
        raise BackendUnavailableError(
            f"the {scheme}:// store needs a driver that is not installed ({exc}); "
            f"install it with: {hint}"
        ) from exc
    backend_class = getattr(module, class_name)
    backend: Backend = backend_class(url, **options)
    return backend
