"""The PostgreSQL store's worker registry, on ``<schema>.workers``; times by the server's
clock (``now()``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskbasket.backends.base import (
    StoredWorker,
    WorkersBeatParams,
    WorkersListParams,
    WorkersRemoveParams,
)
from taskbasket.backends.postgres.statements import Statements


class PostgresWorkers:
    """Mixed into ``PostgresBackend``."""

    statements: Statements

    def _fetch(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _rowcount(self, query: str, params: Sequence[Any] = ()) -> int:
        raise NotImplementedError

    @property
    def _workers(self) -> str:
        return f"{self.statements.schema}.workers"

    def workers_beat(self, params: WorkersBeatParams) -> None:
        self._rowcount(
            f"INSERT INTO {self._workers} (id, info, started_at, last_seen_at) "
            "VALUES (%s, %s, now(), now()) ON CONFLICT (id) DO UPDATE SET "
            "info = excluded.info, last_seen_at = excluded.last_seen_at",
            (params.id, params.info))

    def workers_list(self, params: WorkersListParams) -> list[StoredWorker]:
        rows = self._fetch(f"SELECT id, info, started_at, last_seen_at FROM {self._workers} "
                           "ORDER BY id")
        return [StoredWorker(*row) for row in rows]

    def workers_remove(self, params: WorkersRemoveParams) -> int:
        return self._rowcount(
            f"DELETE FROM {self._workers} WHERE id = ANY(%s::text[]) "
            "OR (%s::timestamptz IS NOT NULL AND last_seen_at < %s::timestamptz)",
            (list(params.ids), params.unseen_before, params.unseen_before))
