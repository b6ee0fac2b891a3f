"""SQLite test stores: a fresh file in a temporary folder per test."""

from __future__ import annotations

import shutil
import tempfile
from urllib.parse import urlsplit


class SQLiteFactory:
    name = "sqlite"

    def unavailable(self) -> str | None:
        return None

    def create(self, tag: str) -> str:
        folder = tempfile.mkdtemp(prefix=f"tb-{tag[:40]}-")
        return f"sqlite:///{folder}/tasks.db"

    def drop(self, url: str) -> None:
        path = urlsplit(url).path[1:]
        folder = path.rsplit("/", 1)[0]
        if folder.startswith(tempfile.gettempdir()):
            shutil.rmtree(folder, ignore_errors=True)


FACTORY = SQLiteFactory()


def app_connection(url: str) -> object:
    """The application's own connection to the store's file, for transactional enqueue."""
    import sqlite3

    return sqlite3.connect(urlsplit(url).path[1:], timeout=30)


FACTORY.app_connection = app_connection  # type: ignore[attr-defined]


def sqlalchemy_url(url: str, asynchronous: bool = False) -> str:
    """The store's file as a SQLAlchemy URL (pysqlite; aiosqlite is not a test extra)."""
    if asynchronous:
        raise ValueError("no async SQLite driver in the test extras")
    return f"sqlite+pysqlite:///{urlsplit(url).path[1:]}"


FACTORY.sqlalchemy_url = sqlalchemy_url  # type: ignore[attr-defined]
