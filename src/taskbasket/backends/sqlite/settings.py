"""What a ``sqlite://`` URL and the store's keyword options say: the file, and its options
(``synchronous``, ``busy_timeout``), read by the shared option reader."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from taskbasket.backends.options import StoreOption, StoreOptions, as_seconds
from taskbasket.errors import ConfigurationError

SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


def as_synchronous(name: str, value: Any) -> str:
    """A ``PRAGMA synchronous`` level, in capitals."""
    level = str(value).upper()
    if level not in SYNCHRONOUS_LEVELS:
        raise ConfigurationError(f"{name}={level!r}: use NORMAL (the default) or FULL")
    return level


OPTIONS = StoreOptions("SQLite", (
    StoreOption("synchronous", "NORMAL",
                "NORMAL survives any process crash; FULL survives power loss too",
                as_synchronous),
    StoreOption("busy_timeout", 30.0,
                "seconds a write waits for another writer's lock",
                as_seconds(allow_zero=True)),
))


@dataclass(frozen=True)
class SQLiteSettings:
    """The store's absolute file path and its options."""

    path: str
    synchronous: str
    busy_timeout: float


def read_settings(url: str, keywords: Mapping[str, Any]) -> SQLiteSettings:
    """The settings of ``url`` and the keyword options; a ConfigurationError names the fix.
    ``sqlite:///rel.db`` is relative to the working directory, ``sqlite:////abs.db`` is not."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise ConfigurationError(f"not a SQLite URL: {url!r}")
    path = unquote(parts.netloc + parts.path)
    if path.startswith("/") and not parts.netloc:
        path = path[1:]  # sqlite:///rel.db -> rel.db ; sqlite:////abs.db -> /abs.db
    if not path:
        raise ConfigurationError(
            f"SQLite URL {url!r} names no file: use sqlite:///relative.db or "
            "sqlite:////absolute/path.db"
        )
    if path == ":memory:":
        raise ConfigurationError(
            "sqlite:///:memory: cannot be shared by a worker's threads and processes; "
            "use a file, e.g. sqlite:////tmp/tasks.db"
        )
    values, _ = OPTIONS.read(url, keywords)
    return SQLiteSettings(path=os.path.abspath(path), synchronous=values["synchronous"],
                          busy_timeout=values["busy_timeout"])


__all__ = ["OPTIONS", "SQLiteSettings", "as_synchronous", "read_settings"]
