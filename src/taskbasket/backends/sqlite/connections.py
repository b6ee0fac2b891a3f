"""The SQLite store's connections: one per thread to the store's file, in WAL mode with a
busy timeout; short ``BEGIN IMMEDIATE`` write transactions; and SQLite's errors explained
as ``BackendUnavailableError`` with the fix (not a database, read-only, cannot open).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from taskbasket.errors import BackendUnavailableError


class SQLiteConnections:
    """This process's connections to the file at ``path``; ``on_open`` runs after a
    thread's connection is first opened (the store migrates the file there)."""

    def __init__(
        self, path: str, *, synchronous: str, busy_timeout: float,
        on_open: Callable[[], None],
    ) -> None:
        self.path = path
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self._on_open = on_open
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._setup_lock = threading.Lock()

    def connection(self, *, prepare: bool = True) -> sqlite3.Connection:
        """This thread's connection, opened on first use; a new one is then prepared with
        ``on_open`` unless ``prepare`` is False."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            if prepare:
                self._on_open()
        return conn

    def _connect(self) -> sqlite3.Connection:
        directory = os.path.dirname(self.path) or "."
        if not os.path.isdir(directory):
            raise BackendUnavailableError(
                f"cannot open SQLite store {self.path}: folder {directory} does not exist; "
                "create it or point the URL elsewhere"
            )
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise BackendUnavailableError(f"cannot open SQLite store {self.path}: {exc}") from exc
        try:
            self._ensure_wal(conn)
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA temp_store=MEMORY")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self.explain(exc) from exc
        with self._opened_lock:
            self._opened.append(conn)
        return conn

    def _ensure_wal(self, conn: sqlite3.Connection) -> None:
        """Switch a new file to WAL once. The switch needs the file to itself and fails at
        once (without the busy timeout) while another connection holds it, as happens
        when several threads or processes open a new store together: so retry."""
        if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            return
        deadline = time.monotonic() + self.busy_timeout
        with self._setup_lock:
            while True:
                try:
                    conn.execute("PRAGMA journal_mode=WAL").fetchone()
                    return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)

    def explain(self, exc: sqlite3.Error) -> BackendUnavailableError:
        """``exc`` as the error a user can act on."""
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return BackendUnavailableError(
                f"{self.path} is not a SQLite database ({text}); point the store URL at a "
                "new file or at a taskbasket database. The file was left untouched"
            )
        if "readonly" in text or "read-only" in text:
            return BackendUnavailableError(
                f"SQLite store {self.path} is read-only ({text}); workers and producers need "
                "write access to the file and its folder (for -wal and -shm files)"
            )
        if "unable to open" in text:
            return BackendUnavailableError(
                f"cannot open SQLite store {self.path} ({text}); check the path and "
                "permissions"
            )
        return BackendUnavailableError(f"SQLite store {self.path}: {text}")

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction that takes the write lock up front."""
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self.explain(exc) from exc
        try:
            yield conn
        except sqlite3.OperationalError as exc:  # read-only, locked past the timeout, disk
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise self.explain(exc) from exc
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise self.explain(exc) from exc

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read, outside any transaction."""
        try:
            return self.connection().execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self.explain(exc) from exc

    def close(self) -> None:
        """Close every thread's connection; a thread's next call opens a new one."""
        with self._opened_lock:
            for conn in self._opened:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._opened.clear()
        self._local = threading.local()


__all__ = ["SQLiteConnections"]
