"""Capabilities: what a backend can do, read by the core, the CLI, the dashboard and tests.

``taskbasket.backends.base`` re-exports every name here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class BackendKind(enum.StrEnum):
    STORE = "store"
    """Keeps every task as a row: leases expire in it, so it needs maintenance."""
    BUS = "bus"
    """A message broker (or a line transport): it redelivers what a dead consumer held,
    keeps no finished task, and needs no maintenance."""


class Inspection(enum.StrEnum):
    FULL = "full"
    """Every task by id, state, queue and name."""
    DEAD_LETTERS = "dead_letters"
    """Failed tasks (the dead letters) and ready counts per queue only."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do. The core, the CLI, the dashboard and the conformance suite
    read this, never the backend's class."""

    transactional_enqueue: bool
    """Enqueue on the application's own connection, inside its transaction."""
    server_clock: bool
    """Leases and schedules use the server's clock, not this host's."""
    notifications: bool
    """Idle workers are woken when work arrives, not only by polling."""
    multi_host: bool
    """Workers on several hosts can share the store."""
    kind: BackendKind = BackendKind.STORE
    inspection: Inspection = Inspection.FULL
    unique_keys: bool = True
    """Enqueue with ``unique_key`` returns the task that holds the key while it is not
    final."""
    priority: bool = True
    """Claims take higher priority first, then earlier run_at, then earlier enqueue."""
    many_workers: bool = True
    """Several worker processes can serve the store at once."""
    leader_lock: bool = False
    """The backend is a :class:`LeaderLock`: one process per store runs maintenance."""
    created_order: bool = False
    """Claims can take tasks in enqueue order whatever their priority
    (``ClaimOrder.CREATED``)."""
    workflows: bool = False
    """Tasks can wait for other tasks (``after=``, ``chain``, ``group``): the store keeps
    the dependencies and releases or cancels dependents atomically
    (``backends/workflow_params``)."""
    shared_between_processes: bool = True
    """Other processes (worker processes, the command line) opening the same URL see the
    same tasks; False for a store kept in one process's memory (``memory://``)."""
    flow_control: bool = False
    """Queues can be paused and claims respect concurrency and rate limits
    (``ClaimParams.limits``, ``queues_update``, ``queues_list``)."""

    @property
    def task_records(self) -> bool:
        """Every task is kept in every state, to look up by id, list, count, cancel,
        delete and prune (a bus keeps messages: failed ones in its dead-letter queue, and
        counts of ready ones)."""
        return self.inspection is Inspection.FULL

    @property
    def lease_expiry(self) -> bool:
        """The core's rescuer applies to expired leases (requeued, or failed on the last
        attempt); a bus redelivers on its own terms instead."""
        return self.kind is BackendKind.STORE

    @property
    def schedules(self) -> bool:
        """Schedules (cron and interval) are kept in the store and fired from it; a bus
        keeps no rows, so it cannot hold them."""
        return self.kind is BackendKind.STORE

    @property
    def results(self) -> bool:
        """A succeeded task's result and its progress reports are kept with the task, to
        read and wait for; a bus keeps no finished task, so it cannot keep them."""
        return self.kind is BackendKind.STORE

    @property
    def snooze(self) -> bool:
        """An attempt can end without costing one (``Snooze``, ``OutcomeKind.DEFERRED``):
        the task waits ``scheduled`` with its snoozes counted in its row; a bus keeps no
        row to count them in."""
        return self.kind is BackendKind.STORE

    @property
    def history(self) -> bool:
        """Each task keeps the history of its last attempts and edits (``Task.history``)."""
        return self.kind is BackendKind.STORE

    @property
    def edit_retry(self) -> bool:
        """``basket.retry(id, args=..., kwargs=..., queue=..., priority=...)`` edits a
        failed or cancelled task and queues it again in one atomic step."""
        return self.kind is BackendKind.STORE

    @property
    def steps(self) -> bool:
        """Durable steps, sleeps and messages (``ctx.step``, ``ctx.sleep``,
        ``ctx.receive``, ``basket.send``): the task keeps its completed steps and its
        messages in its row; a bus keeps no row to keep them in."""
        return self.kind is BackendKind.STORE

    @property
    def cancel_running(self) -> bool:
        """``cancel`` reaches a running attempt: the worker learns it from the store
        (pushed, or by polling its running tasks) and stops the handler; a bus cannot
        withdraw a message it delivered."""
        return self.kind is BackendKind.STORE

    @property
    def worker_registry(self) -> bool:
        """Running workers keep a row each, written by their heartbeats, to list
        (``basket.workers()``) and to explain a task with; a bus keeps no rows."""
        return self.kind is BackendKind.STORE

    @property
    def is_bus(self) -> bool:
        return self.kind is BackendKind.BUS
