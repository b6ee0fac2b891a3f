"""Waking idle workers: LISTEN on a dedicated connection for the NOTIFY that inserts,
promotions, rescues and retries send on the store's channel (the payload is the queue).
The connection goes to ``listen_url`` when given: LISTEN is session state, which a
transaction pooler does not keep."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Sequence

import psycopg
from psycopg import sql

from taskbasket.backends.postgres.connections import Connection, wait_readable
from taskbasket.backends.postgres.settings import PostgresSettings


class PostgresListener:
    """LISTEN on a dedicated connection; wakes a worker when tasks become ready.

    ``wait`` polls the connection's socket and a self-pipe, so ``close`` from another
    thread makes it return at once. A dropped connection is re-opened by the next ``wait``,
    which then returns True (notifications may have been missed, so the worker re-polls).
    """

    def __init__(self, settings: PostgresSettings, queues: Sequence[str] | None,
                 channel: str | None = None) -> None:
        self._settings = settings
        self._channel = channel or settings.channel
        self._queues = None if queues is None else frozenset(queues)
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._pipe_closed = False
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._retry_at = 0.0
        self._failures = 0
        with contextlib.suppress(psycopg.Error, OSError):
            self._connect()

    @property
    def closed(self) -> bool:
        return self._closed

    def _connect(self) -> None:
        conninfo, kwargs = self._settings.listen_target()  # listen_url, if given
        conn = psycopg.connect(conninfo, **kwargs)
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._failures = 0

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _drain(self, conn: Connection) -> bool:
        """Take every notification read so far; True if one is for our queues."""
        woken = False
        while (notify := conn.pgconn.notifies()) is not None:
            if self._queues is None:
                woken = True
            else:
                queue = notify.extra.decode("utf-8", "replace")
                woken = woken or queue in self._queues or not queue
        return woken

    def _pause(self, seconds: float) -> None:
        """Sleep, but return at once when ``close`` is called."""
        with contextlib.suppress(OSError, ValueError):
            wait_readable([self._wake_read], seconds)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            try:
                return self._wait_locked(deadline)
            finally:
                if self._closed:
                    self._shutdown_locked()

    def _wait_locked(self, deadline: float) -> bool:
        while not self._closed:
            conn = self._conn
            if conn is None:
                now = time.monotonic()
                if now < self._retry_at:
                    self._pause(min(self._retry_at, deadline) - now)
                    if time.monotonic() >= deadline:
                        return False
                    continue
                try:
                    self._connect()
                except (psycopg.Error, OSError):
                    self._failures += 1
                    self._retry_at = time.monotonic() + min(5.0, 0.1 * 2 ** self._failures)
                    if time.monotonic() >= deadline:
                        return False
                    continue
                return True  # (re)connected: notifications may have been missed
            try:
                if self._drain(conn):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                ready = wait_readable([conn.pgconn.socket, self._wake_read], remaining)
                if self._closed:
                    return False
                if conn.pgconn.socket in ready:
                    conn.pgconn.consume_input()
                    if conn.pgconn.status != psycopg.pq.ConnStatus.OK:
                        raise psycopg.OperationalError("the LISTEN connection was closed")
                    if self._drain(conn):
                        return True
                elif not ready:
                    return False
            except (psycopg.Error, OSError, ValueError):
                self._drop()
                self._retry_at = 0.0
        return False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")
        # a waiter wakes at once and shuts down as it leaves; else do it here
        if self._lock.acquire(timeout=2.0):
            try:
                self._shutdown_locked()
            finally:
                self._lock.release()

    def _shutdown_locked(self) -> None:
        self._drop()
        if not self._pipe_closed:
            self._pipe_closed = True
            for fd in (self._wake_read, self._wake_write):
                with contextlib.suppress(OSError):
                    os.close(fd)


__all__ = ["PostgresListener"]
