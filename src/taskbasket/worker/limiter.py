"""What a worker's claims are limited by: its tasks' declared limits, the queues' limits
read from the store (at most a second old), and the keys it served lately (fairness)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskbasket.backends.base import Backend, ClaimedTask
from taskbasket.backends.flow_params import ClaimLimits, FlowLimit, GroupKey, task_group

if TYPE_CHECKING:
    from taskbasket.basket import Basket

SETTINGS_MAX_AGE = 0.5
"""Seconds a worker uses the queues' limits it read before reading them again: a
changed limit applies within a second. (Pause is checked by the claim itself.)"""
RECENT_GROUPS = 256
"""How many task groups a worker remembers having served, for taking keys in turn."""


class ClaimLimiter:
    """The ``ClaimLimits`` of a worker's next claim, or None when nothing limits it."""

    def __init__(self, basket: Basket, backend: Backend) -> None:
        self.basket = basket
        self.backend = backend
        self._lock = threading.Lock()
        self._queues: dict[str, FlowLimit] = {}
        self._read_at = -SETTINGS_MAX_AGE
        self._recent: deque[GroupKey] = deque(maxlen=RECENT_GROUPS)

    def _queue_limits(self) -> dict[str, FlowLimit]:
        if not self.backend.capabilities.flow_control:
            return {}
        now = time.monotonic()
        if now - self._read_at >= SETTINGS_MAX_AGE:
            self._queues = {queue.name: queue.limit() for queue in self.backend.queues_list()
                            if queue.concurrency is not None or queue.rate_limit is not None}
            self._read_at = now
        return self._queues

    def limits(self, names: Sequence[str]) -> ClaimLimits | None:
        """The limits for a claim of ``names``; None if no limit or key applies."""
        registry = self.basket.registry
        tasks = {name: definition.flow.limit for name in names
                 for definition in [registry.get(name)]
                 if definition is not None and definition.flow.declared}
        with self._lock:
            queues = self._queue_limits()
            if not tasks and not queues:
                return None
            return ClaimLimits(queues=queues, tasks=tasks, recent=tuple(self._recent))

    def served(self, claimed: Sequence[ClaimedTask]) -> None:
        """Remember the groups of tasks just claimed: they go last in the next claims."""
        with self._lock:
            for task in claimed:
                group = task_group(task.name, task.limit_key)
                if group in self._recent:
                    self._recent.remove(group)
                self._recent.append(group)
