"""The SQLite store's worker registry: rows of ``taskbasket_workers``, times as whole
microseconds by this host's clock (a SQLite file is shared by one host's processes)."""

from __future__ import annotations

import time

from taskbasket.backends.base import (
    StoredWorker,
    WorkersBeatParams,
    WorkersListParams,
    WorkersRemoveParams,
    from_micros,
    to_micros,
)
from taskbasket.backends.sqlite.connections import SQLiteConnections
from taskbasket.backends.sqlite.schema import WORKERS

BEAT = (
    f"INSERT INTO {WORKERS} (id, info, started_at, last_seen_at) VALUES (?,?,?,?) "
    "ON CONFLICT (id) DO UPDATE SET info = excluded.info, last_seen_at = excluded.last_seen_at"
)


class SQLiteWorkers:
    """Mixed into ``SQLiteBackend``."""

    _connections: SQLiteConnections

    def workers_beat(self, params: WorkersBeatParams) -> None:
        now = time.time_ns() // 1000
        with self._connections.write() as conn:
            conn.execute(BEAT, (params.id, params.info, now, now))

    def workers_list(self, params: WorkersListParams) -> list[StoredWorker]:
        rows = self._connections.read(
            f"SELECT id, info, started_at, last_seen_at FROM {WORKERS} ORDER BY id")
        return [StoredWorker(row[0], row[1], from_micros(row[2]), from_micros(row[3]))
                for row in rows]

    def workers_remove(self, params: WorkersRemoveParams) -> int:
        removed = 0
        with self._connections.write() as conn:
            for worker_id in params.ids:
                removed += conn.execute(f"DELETE FROM {WORKERS} WHERE id = ?",
                                        (worker_id,)).rowcount
            if params.unseen_before is not None:
                removed += conn.execute(f"DELETE FROM {WORKERS} WHERE last_seen_at < ?",
                                        (to_micros(params.unseen_before),)).rowcount
        return removed
