"""The store's connections: a small thread-safe pool of PyMySQL connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from taskbasket.backends.mysql.connection import Connection, close_quietly
from taskbasket.errors import BackendUnavailableError


class Pool:
    """A small thread-safe pool: idle connections are reused newest first.

    A connection that failed is closed, never returned; ``discard_idle`` closes the idle
    ones too (after a server restart they are all dead). ``reset`` (on close) makes every
    connection opened before it close when it comes back.
    """

    def __init__(self, connect: Callable[[], Connection], size: int, timeout: float) -> None:
        self._connect = connect
        self._size = size
        self._timeout = timeout
        self._idle: list[tuple[Connection, int]] = []
        self._open = 0
        self._generation = 0
        self._cond = threading.Condition()

    def acquire(self) -> tuple[Connection, int]:
        """A connection and its generation, to pass back to ``release``."""
        deadline = time.monotonic() + self._timeout
        with self._cond:
            while True:
                if self._idle:
                    return self._idle.pop()
                if self._open < self._size:
                    self._open += 1
                    generation = self._generation
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BackendUnavailableError(
                        f"all {self._size} connections of the MySQL pool stayed busy for "
                        f"{self._timeout:g}s; raise pool_size in the store URL"
                    )
                self._cond.wait(left)
        try:
            return self._connect(), generation
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def release(self, conn: Connection, generation: int, *, broken: bool = False) -> None:
        with self._cond:
            keep = not broken and generation == self._generation and conn.open
            if keep:
                self._idle.append((conn, generation))
            else:
                self._open -= 1
            self._cond.notify()
        if not keep:
            close_quietly(conn)

    def discard_idle(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for conn, _ in idle:
            close_quietly(conn)

    def reset(self) -> None:
        with self._cond:
            self._generation += 1
        self.discard_idle()


__all__ = ["Pool"]
