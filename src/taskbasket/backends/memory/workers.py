"""The worker registry of the memory store: StoredWorker records in ``store.workers``,
each change atomic under the store's one lock, times by the store's clock."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from taskbasket.backends.base import (
    StoredWorker,
    WorkersBeatParams,
    WorkersListParams,
    WorkersRemoveParams,
)

if TYPE_CHECKING:
    from taskbasket.backends.memory.store import MemoryStore


class MemoryWorkers:
    """Mixed into ``MemoryBackend``."""

    store: MemoryStore

    def workers_beat(self, params: WorkersBeatParams) -> None:
        with self.store.condition:
            now = self.store.clock.now()
            old: StoredWorker | None = self.store.workers.get(params.id)
            self.store.workers[params.id] = (
                StoredWorker(params.id, params.info, now, now) if old is None
                else dataclasses.replace(old, info=params.info, last_seen_at=now))

    def workers_list(self, params: WorkersListParams) -> list[StoredWorker]:
        with self.store.condition:
            return sorted(self.store.workers.values(), key=lambda row: row.id)

    def workers_remove(self, params: WorkersRemoveParams) -> int:
        with self.store.condition:
            workers: dict[str, StoredWorker] = self.store.workers
            doomed = {worker_id for worker_id in params.ids if worker_id in workers}
            if params.unseen_before is not None:
                doomed |= {row.id for row in workers.values()
                           if row.last_seen_at < params.unseen_before}
            for worker_id in doomed:
                del workers[worker_id]
            return len(doomed)
