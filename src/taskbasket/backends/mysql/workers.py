"""The MySQL store's worker registry, on ``<prefix>workers``: times are UTC
``DATETIME(6)`` by the server's clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from taskbasket.backends.base import (
    StoredWorker,
    WorkersBeatParams,
    WorkersListParams,
    WorkersRemoveParams,
)
from taskbasket.backends.mysql.settings import Settings
from taskbasket.backends.mysql.statements import NOW


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


class MySQLWorkers:
    """Mixed into ``MySQLBackend``."""

    settings: Settings

    def _read(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _write(self, sql: str, args: Sequence[Any]) -> int:
        raise NotImplementedError

    def workers_beat(self, params: WorkersBeatParams) -> None:
        self._write(
            f"INSERT INTO {self.settings.workers_table} (id, info, started_at, last_seen_at) "
            f"VALUES (%s, %s, {NOW}, {NOW}) ON DUPLICATE KEY UPDATE info = VALUES(info), "
            "last_seen_at = VALUES(last_seen_at)",
            (params.id, params.info))

    def workers_list(self, params: WorkersListParams) -> list[StoredWorker]:
        rows = self._read(f"SELECT id, info, started_at, last_seen_at FROM "
                          f"{self.settings.workers_table} ORDER BY id")
        return [StoredWorker(row[0], row[1], _aware(row[2]), _aware(row[3])) for row in rows]

    def workers_remove(self, params: WorkersRemoveParams) -> int:
        conditions, args = [], list[Any](params.ids)
        if params.ids:
            conditions.append(f"id IN ({', '.join(['%s'] * len(params.ids))})")
        if params.unseen_before is not None:
            conditions.append("last_seen_at < %s")
            args.append(params.unseen_before.astimezone(UTC).replace(tzinfo=None))
        if not conditions:
            return 0
        return self._write(f"DELETE FROM {self.settings.workers_table} WHERE "
                           + " OR ".join(conditions), args)
