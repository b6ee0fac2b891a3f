"""Working a basket off in tests and scripts: ``Worker.run_until_empty``'s implementation."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from taskbasket.backends.base import TaskFilter
from taskbasket.task import State

if TYPE_CHECKING:
    from taskbasket.worker.inflight import InFlight
    from taskbasket.worker.worker import Worker


def run_until_empty(worker: Worker, inflight: InFlight, timeout: float = 30.0) -> None:
    """Start ``worker``, work until no task is queued, retrying or in flight, then stop it.

    ``inflight`` is the worker's book of what it holds. Waits out retries' backoff; tasks
    scheduled for later are left alone. Raises TimeoutError if work remains after
    ``timeout`` seconds.
    """
    worker.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            # a claim begun after the first check hides its task from the count: check again
            if not inflight.busy() and _nothing_due(worker) and not inflight.busy():
                return
            inflight.wait(0.02)
        raise TimeoutError(f"tasks were still due or running after {timeout}s")
    finally:
        worker.stop()


def _nothing_due(worker: Worker) -> bool:
    """True if no task of the worker's queues and names is ready or waits to retry, once
    maintenance ran (so that rescued and due tasks count)."""
    worker.maintenance.run_once(prune=False)
    ready = worker.backend.tasks_count(TaskFilter(
        states=[State.QUEUED, State.RETRYING], queues=worker.queues, names=worker.names
    ))
    return ready == 0
