"""A worker's row in the worker registry (:mod:`taskbasket.workers`): written at start
and at every heartbeat, pruned of long-gone workers now and then, deleted on a graceful
stop. A failure here is logged and never stops the worker: the registry is advisory."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence

from taskbasket.backends.base import Backend, WorkersBeatParams, WorkersRemoveParams
from taskbasket.workers import PRUNE_EVERY_BEATS, encode_info, removal_cutoff

log = logging.getLogger("taskbasket.worker")


class Registration:
    """Keeps worker ``worker_id``'s row; ``beat`` is called by the housekeeper."""

    def __init__(
        self, backend: Backend, worker_id: str, *, queues: Sequence[str] | None,
        names: Callable[[], list[str]], busy: Callable[[], int], concurrency: int,
        heartbeat_interval: float,
    ) -> None:
        self.backend = backend
        self.worker_id = worker_id
        self.enabled = backend.capabilities.worker_registry
        self._queues = queues
        self._names = names
        self._busy = busy
        self._concurrency = concurrency
        self._interval = heartbeat_interval
        self._beats = 0
        self._failing = False

    def beat(self) -> None:
        """Write this worker's row now (and prune long-gone rows every few beats)."""
        if not self.enabled:
            return
        try:
            self.backend.workers_beat(WorkersBeatParams(self.worker_id, encode_info(
                host=socket.gethostname(), pid=os.getpid(), queues=self._queues,
                tasks=self._names(), concurrency=self._concurrency, busy=self._busy(),
                heartbeat_interval=self._interval)))
            if self._beats % PRUNE_EVERY_BEATS == 0:
                cutoff = removal_cutoff(self.backend.now(), self._interval)
                self.backend.workers_remove(WorkersRemoveParams(unseen_before=cutoff))
            self._beats += 1
            if self._failing:
                log.info("worker %s: its registry row is written again", self.worker_id)
            self._failing = False
        except Exception as exc:
            if not self._failing:  # once per outage: the heartbeat logs the store's state
                log.warning("worker %s: could not write its registry row (%s); tasks are "
                            "unaffected", self.worker_id, exc)
            self._failing = True

    def remove(self) -> None:
        """Delete this worker's row (a graceful stop)."""
        if not self.enabled:
            return
        try:
            self.backend.workers_remove(WorkersRemoveParams(ids=[self.worker_id]))
        except Exception as exc:
            log.warning("worker %s: could not delete its registry row (%s); it will show "
                        "as gone, then be removed", self.worker_id, exc)
