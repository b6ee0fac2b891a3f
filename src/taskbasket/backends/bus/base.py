"""What the Backend adapters of the message buses share (RabbitMQ, NATS JetStream, and the
``file://`` line transports): the inspection a dead-letter queue can offer, duplicate
dropping, and clear errors for everything a bus cannot do.

Layers, lowest first:

- ``taskbasket.transports``: the broker clients (pika, nats-py) and the names of
  taskbasket's broker objects. They know nothing of tasks.
- ``backends/bus/message.py``: :class:`TaskMessage`, a task as one message.
- this module: :class:`BusBackendBase`, the Backend protocol's share every bus keeps alike.
- ``backends/bus/amqp.py``, ``nats.py`` (with ``nats_leases.py``) and ``backends/lines/``:
  the Backend adapters, so a ``Basket("amqp://...")`` and ``taskbasket worker ... --url
  nats://...`` work unchanged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from taskbasket.backends.base import (
    BackendBase,
    BackendKind,
    CancelParams,
    Capabilities,
    ClaimOrder,
    ClaimParams,
    ExpiredLease,
    Inspection,
    LeasesExpiredParams,
    LeasesRescueParams,
    ListParams,
    NewTask,
    PromoteParams,
    PruneParams,
    StoredTask,
    TaskFilter,
)
from taskbasket.backends.bus.message import TaskMessage
from taskbasket.errors import UnsupportedOperationError
from taskbasket.task import State
from taskbasket.transports.layout import check_bus_queue

log = logging.getLogger("taskbasket.worker")

DEFAULT_QUEUE = "default"
"""The basket's default queue: what a bus worker serves besides the queues it knows."""
QUEUE_REFRESH_SECONDS = 10.0
"""How often a worker without ``--queues`` looks for queues created since it started."""
UNKNOWN_NAME_DELAY = 5.0
"""A task no handler of this worker knows goes back to its queue after this many seconds."""
EARLY_TOLERANCE = 1.0
"""A message that arrives more than this before its run_at (clock skew, very long delays)
is delayed again for the rest of the time instead of running early."""


class RecentIds:
    """The ids of the last ``size`` tasks that succeeded on this worker (thread-safe).

    A bus delivers at least once: a relay that died after publishing publishes the task
    again under the same message id, and an acknowledgement lost with its connection
    brings the message back. A message whose task already succeeded here is such a
    duplicate, and the worker acknowledges it without running it.
    """

    def __init__(self, size: int = 100_000) -> None:
        self._size = size
        self._ids: dict[str, None] = {}
        self._lock = threading.Lock()

    def add(self, task_id: str) -> None:
        with self._lock:
            self._ids[task_id] = None
            if len(self._ids) > self._size:
                del self._ids[next(iter(self._ids))]

    def __contains__(self, task_id: object) -> bool:
        with self._lock:
            return task_id in self._ids


# --------------------------------------------------------------------------- backends


def unsupported(transport: str, what: str, hint: str = "") -> UnsupportedOperationError:
    return UnsupportedOperationError(
        f"{transport} is a message bus: it cannot {what}. {hint}".rstrip()
        + " See docs/buses.md for what a bus supports; use a store (SQLite, PostgreSQL, "
        "MySQL, Redis) when you need it."
    )


def task_filter_matches(task_filter: TaskFilter) -> Callable[[TaskMessage], bool]:
    def matches(message: TaskMessage) -> bool:
        return message.matches(task_filter)

    return matches


class BusBackendBase(BackendBase):
    """What both bus backends share: the inspection a dead-letter queue can offer, and
    clear errors for everything a bus cannot do.

    A bus holds messages, not rows: it cannot look a task up by id, count tasks by state,
    cancel or clean them, keep unique keys or join the application's SQL transaction.
    Failed tasks are the exception: they sit in the dead-letter queue ``<queue>.dead``,
    where they can be listed, counted, retried and deleted.
    """

    transport_name = "a message bus"
    capabilities = Capabilities(
        transactional_enqueue=False, server_clock=False, notifications=True, multi_host=True,
        kind=BackendKind.BUS, inspection=Inspection.DEAD_LETTERS, unique_keys=False,
        priority=False,
    )

    def schedules_unsupported(self) -> UnsupportedOperationError:
        return unsupported(
            self.transport_name, "hold schedules: it keeps no rows to fire them from.",
            "Keep the schedule in a store and move its tasks onto the bus with the outbox "
            "relay (docs/schedules.md).")

    def flow_unsupported(self) -> UnsupportedOperationError:
        return unsupported(
            self.transport_name, "pause queues or limit concurrency and rates: its "
            "consumers take messages without a shared place to count them in.")

    def workers_unsupported(self) -> UnsupportedOperationError:
        return unsupported(
            self.transport_name, "keep a worker registry: it keeps no rows for workers.",
            "Its consumers are listed by the broker's own tools.")

    @property
    def is_bus(self) -> bool:
        """``capabilities.is_bus``, which the core reads; kept for code that read this."""
        return self.capabilities.is_bus

    # --- transport-specific, implemented by each bus
    def _scan_dead_letters(
        self, queues: Sequence[str], take: Callable[[TaskMessage], bool] | None = None
    ) -> list[TaskMessage]:
        """Every dead letter of ``queues``; those for which ``take`` returns True are
        removed from the dead-letter queue after ``take`` ran."""
        raise NotImplementedError

    def _requeue(self, message: TaskMessage) -> None:
        """Publish ``message`` to its work queue, due now."""
        raise NotImplementedError

    def _ready_count(self, queue: str) -> int:
        raise NotImplementedError

    def known_queues(self) -> list[str]:
        """The queues this bus has seen (the default queue always among them)."""
        raise NotImplementedError

    # --- shared
    _succeeded: RecentIds

    def check_claim_order(self, params: ClaimParams) -> None:
        """Refuse a claim order this transport cannot keep (see ``capabilities``)."""
        if params.order is ClaimOrder.CREATED and not self.capabilities.created_order:
            raise unsupported(
                self.transport_name, "claim in enqueue order whatever the priority "
                "(order='created'): it delivers in its own queue order, and a retry or a "
                "delay is published again behind newer tasks.",
                "Use order='priority' (the default) with this transport.",
            )
    """Each bus backend sets ``self._succeeded = RecentIds()`` and adds every task id
    whose success it recorded."""

    def is_duplicate(self, message: TaskMessage) -> bool:
        """True if ``message``'s task already succeeded on this worker (see RecentIds):
        the caller acknowledges it without running it."""
        if message.id not in self._succeeded:
            return False
        log.info("task %s already succeeded on this worker: duplicate message dropped",
                 message.id)
        return True

    def now(self) -> datetime:
        return datetime.now(UTC)

    def _check_insert(self, tasks: Sequence[NewTask], connection: Any) -> None:
        if connection is not None:
            raise unsupported(
                self.transport_name, "join your database transaction (connection=...)",
                "Enqueue into a SQL store in your transaction and run `taskbasket relay "
                "--from <store> --to <bus>` (the outbox relay), or enqueue after commit.",
            )
        for task in tasks:
            check_bus_queue(task.queue)
            if task.unique_key is not None:
                raise unsupported(
                    self.transport_name,
                    f"keep unique keys (unique_key={task.unique_key!r}): it cannot see which "
                    "tasks are pending",
                    "Enqueue without unique_key and make the handler idempotent.",
                )

    def _queues_of(self, task_filter: TaskFilter) -> list[str]:
        return list(task_filter.queues) if task_filter.queues else self.known_queues()

    def _only_failed(self, task_filter: TaskFilter, what: str) -> None:
        if task_filter.states is None or list(task_filter.states) != [State.FAILED]:
            raise unsupported(
                self.transport_name, f"{what} tasks by state",
                f"It can {what} failed tasks only (its dead-letter queue): pass "
                "state='failed'.",
            )
        if task_filter.finished_before is not None:
            raise unsupported(self.transport_name, f"{what} tasks by finish time")

    def tasks_get(self, task_id: str) -> StoredTask | None:
        raise unsupported(
            self.transport_name, f"look up a task by id ({task_id})",
            "Failed tasks can be listed: basket.list(state='failed').",
        )

    def tasks_list(self, params: ListParams) -> list[StoredTask]:
        self._only_failed(params.filter, "list")
        dead = [m for m in self._scan_dead_letters(self._queues_of(params.filter))
                if m.matches(params.filter)
                and (params.before_id is None or m.id < params.before_id)]
        dead.sort(key=lambda m: m.id, reverse=True)
        return [m.stored(State.FAILED) for m in dead[: params.limit]]

    def tasks_count(self, task_filter: TaskFilter) -> int:
        states = list(task_filter.states or [])
        if states == [State.QUEUED] and not task_filter.ids and not task_filter.names:
            return sum(self._ready_count(q) for q in self._queues_of(task_filter))
        self._only_failed(task_filter, "count")
        dead = self._scan_dead_letters(self._queues_of(task_filter))
        return sum(1 for m in dead if m.matches(task_filter))

    def tasks_stats(self) -> dict[tuple[str, State], int]:
        """Ready and failed counts per queue: all a bus can tell."""
        stats: dict[tuple[str, State], int] = {}
        queues = self.known_queues()
        for queue in queues:
            stats[(queue, State.QUEUED)] = self._ready_count(queue)
        for message in self._scan_dead_letters(queues):
            key = (message.queue, State.FAILED)
            stats[key] = stats.get(key, 0) + 1
        return stats

    def tasks_retry(self, task_filter: TaskFilter) -> int:
        """Requeue matching dead letters (failed tasks) with their attempts reset."""
        if task_filter.states is not None:
            self._only_failed(task_filter, "retry")

        def take(message: TaskMessage) -> bool:
            if not message.matches(task_filter) or message.name == "(not a task)":
                return False
            self._requeue(message.but(attempts=0, run_at=time.time(), failed_at=None))
            return True

        dead = self._scan_dead_letters(self._queues_of(task_filter), take)
        return sum(1 for m in dead if m.matches(task_filter) and m.name != "(not a task)")

    def tasks_delete(self, task_filter: TaskFilter) -> int:
        """Delete matching dead letters; a bus cannot delete pending messages."""
        self._only_failed(task_filter, "delete")
        dead = self._scan_dead_letters(self._queues_of(task_filter), task_filter_matches(
            task_filter))
        return sum(1 for m in dead if m.matches(task_filter))

    def tasks_cancel(self, params: CancelParams) -> int:
        raise unsupported(
            self.transport_name, "cancel tasks: a published message cannot be withdrawn",
            "Have the handler check a cancellation flag of your own.",
        )

    # --- maintenance: the broker redelivers what a dead consumer held; nothing expires
    def leases_expired(self, params: LeasesExpiredParams) -> list[ExpiredLease]:
        return []

    def leases_rescue(self, params: LeasesRescueParams) -> list[bool]:
        return [False] * len(params.rescues)

    def tasks_promote(self, params: PromoteParams) -> int:
        return 0

    def tasks_prune(self, params: PruneParams) -> int:
        raise unsupported(
            self.transport_name, "clean finished tasks: it keeps none (a finished task's "
            "message is acknowledged and gone)",
            "Dead letters can be deleted: basket.purge(state='failed').",
        )


