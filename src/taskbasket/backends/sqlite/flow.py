"""Flow control in the SQLite store: queue settings, and the reads and writes of a limited
claim (``backends.admission`` is the rule) inside one ``BEGIN IMMEDIATE`` transaction,
which serializes every claim of the file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from taskbasket.backends.admission import Candidate, StartRecord
from taskbasket.backends.base import ClaimOrder, ClaimParams, QueueUpdateParams, StoredQueue
from taskbasket.backends.sqlite.rows import CLAIMED_COLUMNS
from taskbasket.backends.sqlite.schema import QUEUES, STARTS, TABLE
from taskbasket.backends.sqlite.statements import claim_where, placeholders

QUEUE_COLUMNS = "name, paused, concurrency, rate_limit"
LIST_QUEUES = f"SELECT {QUEUE_COLUMNS} FROM {QUEUES} ORDER BY name"
RUNNING = (
    f"SELECT queue, name, limit_key, COUNT(*) FROM {TABLE} INDEXED BY {TABLE}_leases "
    "WHERE state='running' AND lease_expires_at > ? GROUP BY queue, name, limit_key"
)
STARTS_LIVE = f"SELECT grp, COUNT(*) FROM {STARTS} WHERE expires > ? GROUP BY grp"
STARTS_DROP = f"DELETE FROM {STARTS} WHERE expires <= ?"
STARTS_ADD = f"INSERT INTO {STARTS} (grp, expires) VALUES (?, ?)"


def update_queue(conn: sqlite3.Connection, params: QueueUpdateParams) -> None:
    """Insert the queue's row if it has none, then set the given fields."""
    conn.execute(f"INSERT OR IGNORE INTO {QUEUES} (name) VALUES (?)", (params.name,))
    if params.changes:
        sets = ", ".join(f"{field}=?" for field in params.changes)
        values = [int(v) if field == "paused" else v for field, v in params.changes.items()]
        conn.execute(f"UPDATE {QUEUES} SET {sets} WHERE name=?", [*values, params.name])


def stored_queue(row: tuple[Any, ...]) -> StoredQueue:
    return StoredQueue(row[0], bool(row[1]), row[2], row[3])


class SqliteFlowReads:
    """The ``FlowReads`` of one limited claim on ``conn``, in its write transaction."""

    def __init__(self, conn: sqlite3.Connection, params: ClaimParams, now: float,
                 token: str) -> None:
        self.conn = conn
        self.params = params
        self.now = now
        self.token = token
        self.claimed: list[tuple[Any, ...]] = []

    def running_rows(self) -> Iterable[tuple[str, str, str | None, int]]:
        rows = self.conn.execute(RUNNING, (self.now,)).fetchall()
        return [(queue, name, key or None, count) for queue, name, key, count in rows]

    def start_rows(self) -> Iterable[tuple[str, int]]:
        self.conn.execute(STARTS_DROP, (self.now,))
        return self.conn.execute(STARTS_LIVE, (self.now,)).fetchall()

    def _filter(self, excluded: Sequence[str], names: Sequence[str] | None,
                ) -> tuple[str, dict[str, Any]]:
        queues = self.params.queues
        where = claim_where(None if names is None else len(names),
                            None if queues is None else len(queues), len(excluded))
        values: dict[str, Any] = {"now": self.now}
        values.update({f"name{i}": name for i, name in enumerate(names or ())})
        values.update({f"queue{i}": queue for i, queue in enumerate(queues or ())})
        values.update({f"excluded{i}": queue for i, queue in enumerate(excluded)})
        return where, values

    def head(self, excluded_queues: Sequence[str], count: int) -> list[Candidate]:
        where, values = self._filter(excluded_queues, self.params.names)
        order = ("id" if self.params.order is ClaimOrder.CREATED
                 else "priority DESC, run_at, id")
        columns = "id, name, queue, limit_key, priority, run_at"
        rows = self.conn.execute(
            f"SELECT id, name, queue, limit_key FROM ("
            f"SELECT * FROM (SELECT {columns} FROM {TABLE} WHERE state='queued' "
            f"AND run_at <= :now{where} ORDER BY {order} LIMIT :count) UNION ALL "
            f"SELECT * FROM (SELECT {columns} FROM {TABLE} WHERE state IN "
            f"('scheduled','retrying') AND run_at <= :now{where} ORDER BY run_at "
            f"LIMIT :count)) ORDER BY {order} LIMIT :count",
            {**values, "count": count}).fetchall()
        return [Candidate(r[0], r[1], r[2], r[3] or None) for r in rows]

    def seek(self, name: str, after_key: str | None) -> Candidate | None:
        where, values = self._filter((), [name])
        if after_key is not None:
            where += " AND limit_key > :after_key"
            values["after_key"] = after_key
        row = self.conn.execute(
            f"SELECT id, name, queue, limit_key FROM {TABLE} INDEXED BY {TABLE}_keyed "
            f"WHERE state='queued' AND run_at <= :now{where} "
            "ORDER BY name, limit_key, priority DESC, run_at, id LIMIT 1", values).fetchone()
        return None if row is None else Candidate(row[0], row[1], row[2], row[3] or None)

    def take(self, chosen: Sequence[Candidate]) -> None:
        ids = [candidate.id for candidate in chosen]
        attempts = "attempts+1" if self.params.count_attempt else "attempts"
        self.claimed = self.conn.execute(
            f"UPDATE {TABLE} SET state='running', attempts={attempts}, lease_token=?, "
            "lease_expires_at=?, started_at=?, worker_id=? "
            f"WHERE id IN ({placeholders(ids)}) AND state IN ('queued','scheduled','retrying') "
            f"RETURNING {CLAIMED_COLUMNS}",
            [self.token, self.now + self.params.lease_seconds, self.now,
             self.params.worker_id, *ids]).fetchall()

    def record_starts(self, records: Sequence[StartRecord]) -> None:
        if records:
            self.conn.executemany(STARTS_ADD, [(r.group, r.expires) for r in records])
