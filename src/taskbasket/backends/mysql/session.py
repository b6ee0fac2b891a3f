"""One operation's statements on one pooled connection, and the loop that runs an
operation: deadlocks and lock wait timeouts are retried with a short backoff, and a lost
connection once on a fresh one where running the operation twice is safe."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from taskbasket.backends.mysql.connection import Cursor
from taskbasket.backends.mysql.pool import Pool
from taskbasket.backends.mysql.server_errors import is_conflict, is_connection_error
from taskbasket.errors import BackendUnavailableError

log = logging.getLogger("taskbasket.backends.mysql")

T = TypeVar("T")

CONFLICT_RETRIES = 10


class Session:
    """The statements of one operation on one connection.

    In a transaction, ``START TRANSACTION`` rides along with the first statement and
    ``COMMIT`` with the one passed ``commit=True`` (multi-statement packets), so a claim
    costs two round trips instead of four: each round trip also waits for the GIL in a
    busy worker. Outside a transaction statements run as they are, in autocommit mode.
    """

    def __init__(self, cursor: Cursor, transaction: bool) -> None:
        self._cursor = cursor
        self.transaction = transaction
        self.begun = False
        self.committing = False
        self.committed = False
        self._rows: Sequence[tuple[Any, ...]] = ()

    def execute(self, sql: str, args: Any = None, *, commit: bool = False) -> int:
        """Run one statement; its row count (changed or selected rows)."""
        begin = self.transaction and not self.begun
        commit = commit and self.transaction
        text = ("START TRANSACTION; " if begin else "") + sql + ("; COMMIT" if commit else "")
        self.begun = self.begun or begin
        self.committing = commit
        self._cursor.execute(text, args)
        if begin:
            self._cursor.nextset()
        count = self._cursor.rowcount
        self._rows = self._cursor.fetchall()
        if commit:
            self._cursor.nextset()  # the COMMIT's reply: raises if it failed
            self.committed = True
        return count

    def fetchall(self) -> Sequence[tuple[Any, ...]]:
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None


def run_in_session(
    pool: Pool,
    work: Callable[[Session], T],
    *,
    transaction: bool,
    idempotent: bool,
    unavailable: Callable[[BaseException], BackendUnavailableError],
) -> T:
    """Run ``work`` on a pooled connection, inside a transaction if ``transaction``.

    Deadlocks and lock-wait timeouts roll back and run ``work`` again after a short
    backoff. A broken connection is closed (with the idle ones: after a restart all
    are dead) and ``work`` runs once more on a fresh connection if that cannot apply
    it twice: it failed before COMMIT was sent, or it is ``idempotent``. A connection
    still lost raises ``unavailable(exc)``.
    """
    conflicts = 0
    reconnected = False
    while True:
        conn, generation = pool.acquire()
        session: Session | None = None
        try:
            with conn.cursor() as cur:
                session = Session(cur, transaction)
                result = work(session)
                if session.begun and not session.committed:
                    session.committing = True
                    conn.commit()
        except BaseException as exc:
            broken = is_connection_error(exc) or not isinstance(exc, Exception)
            if not broken and session is not None and session.begun:
                try:
                    conn.rollback()
                except Exception:
                    broken = True
            pool.release(conn, generation, broken=broken)
            if is_connection_error(exc):
                pool.discard_idle()
                committing = session is not None and session.committing
                safe = idempotent or (transaction and not committing)
                if safe and not reconnected:
                    reconnected = True
                    log.info("MySQL connection lost (%s); retrying on a new one", exc)
                    continue
                raise unavailable(exc) from exc
            if is_conflict(exc) and conflicts < CONFLICT_RETRIES:
                conflicts += 1
                delay = min(0.5, 0.005 * 2**conflicts) * random.uniform(0.5, 1.5)
                log.debug("MySQL %s; retry %d in %.3fs", exc, conflicts, delay)
                time.sleep(delay)
                continue
            raise
        pool.release(conn, generation)
        return result


__all__ = ["CONFLICT_RETRIES", "Session", "run_in_session"]
