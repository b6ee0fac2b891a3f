"""The ``TASKBASKET`` setting, and the store URL of a Django database.

``TASKBASKET = {"URL": ..., "DATABASE": "default", "OPTIONS": {...}, "DEFAULT_QUEUE": ...,
"DASHBOARD": {...}}``, every key optional. Without ``URL`` the store is the project's own
database (the ``DATABASE`` alias): its URL is made from ``DATABASES`` when the store opens,
so the test runner's test database is the one used in tests.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from taskbasket.errors import ConfigurationError

KEYS = ("URL", "DATABASE", "OPTIONS", "DEFAULT_QUEUE", "DASHBOARD")

ENGINES = {
    "django.db.backends.sqlite3": "sqlite",
    "django.db.backends.postgresql": "postgresql",
    "django.contrib.gis.db.backends.postgis": "postgresql",
    "django.db.backends.mysql": "mysql",
    "django.contrib.gis.db.backends.mysql": "mysql",
}

# Connection options of Django's PostgreSQL settings that libpq takes as they are.
LIBPQ_OPTIONS = frozenset({
    "sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "connect_timeout",
    "application_name", "target_session_attrs", "passfile", "service", "options",
    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
})


@dataclass(frozen=True)
class Settings:
    """The ``TASKBASKET`` setting, checked."""

    url: str | None = None
    database: str = "default"
    options: Mapping[str, Any] = field(default_factory=dict)
    default_queue: str | None = None
    dashboard: Mapping[str, Any] = field(default_factory=dict)


def read_settings(raw: object) -> Settings:
    """``settings.TASKBASKET`` (a dict, or None for every default) as ``Settings``; an
    unknown key is refused with the close match."""
    if raw is None:
        return Settings()
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            f"settings.TASKBASKET must be a dict such as {{'URL': 'redis://...'}}, got "
            f"{type(raw).__name__}"
        )
    for key in raw:
        if key not in KEYS:
            close = difflib.get_close_matches(str(key), KEYS, n=1)
            guess = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigurationError(
                f"settings.TASKBASKET has an unknown key {key!r}.{guess} Keys: "
                f"{', '.join(KEYS)}"
            )
    for key in ("OPTIONS", "DASHBOARD"):
        if not isinstance(raw.get(key, {}), Mapping):
            raise ConfigurationError(f"settings.TASKBASKET[{key!r}] must be a dict")
    return Settings(
        url=raw.get("URL") or None,
        database=str(raw.get("DATABASE") or "default"),
        options=dict(raw.get("OPTIONS") or {}),
        default_queue=raw.get("DEFAULT_QUEUE"),
        dashboard=dict(raw.get("DASHBOARD") or {}),
    )


def database_url(alias: str, settings_dict: Mapping[str, Any]) -> str:
    """The taskbasket URL of the Django database ``alias`` whose settings are
    ``settings_dict`` (one entry of ``DATABASES``, as ``connections[alias]`` holds it)."""
    engine = str(settings_dict.get("ENGINE", ""))
    kind = ENGINES.get(engine)
    if kind is None:
        raise ConfigurationError(
            f"DATABASES[{alias!r}] uses {engine or 'no ENGINE'}, which taskbasket cannot "
            "store tasks in; use SQLite, PostgreSQL or MySQL/MariaDB, or set "
            "TASKBASKET = {'URL': 'redis://...'} (any store URL)"
        )
    name = str(settings_dict.get("NAME") or "")
    if kind == "sqlite":
        if not name or name == ":memory:" or "mode=memory" in name:
            raise ConfigurationError(
                f"DATABASES[{alias!r}] is an in-memory SQLite database, which the store's "
                "own connections and the workers cannot open. Give it a file (for tests: "
                "DATABASES[...]['TEST'] = {'NAME': 'test.sqlite3'}), or set "
                "TASKBASKET = {'URL': ...} to a store of its own"
            )
        return "sqlite:///" + os.path.abspath(name)
    if not name:
        raise ConfigurationError(f"DATABASES[{alias!r}] has no NAME")
    user = quote(str(settings_dict.get("USER") or ""), safe="")
    password = quote(str(settings_dict.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = str(settings_dict.get("HOST") or "")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    if kind == "mysql":
        host = host or "localhost"
    port = str(settings_dict.get("PORT") or "")
    netloc = credentials + host + (f":{port}" if port else "")
    url = f"{kind}://{netloc}/{quote(name, safe='')}"
    if kind == "postgresql":
        options = settings_dict.get("OPTIONS") or {}
        passed = {k: str(v) for k, v in options.items() if k in LIBPQ_OPTIONS}
        if passed:
            url += "?" + urlencode(sorted(passed.items()))
    return url
