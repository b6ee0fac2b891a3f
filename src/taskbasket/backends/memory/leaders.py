"""The memory store's leader lock: one holder per name until its term ends, by the store's
clock, under the store's one lock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskbasket.backends.base import LeaderParams

if TYPE_CHECKING:
    from taskbasket.backends.memory.store import MemoryStore


class MemoryLeaders:
    """Mixed into ``MemoryBackend``."""

    store: MemoryStore

    def leader_try(self, params: LeaderParams) -> bool:
        leaders = self.store.leaders
        with self.store.condition:
            now = self.store.clock.time()
            current = leaders.get(params.name)
            if current is not None and current[0] != params.holder and current[1] > now:
                return False
            leaders[params.name] = (params.holder, now + params.ttl)
            return True

    def leader_resign(self, params: LeaderParams) -> None:
        with self.store.condition:
            current = self.store.leaders.get(params.name)
            if current is not None and current[0] == params.holder:
                del self.store.leaders[params.name]
