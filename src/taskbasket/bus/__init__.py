"""Message buses (RabbitMQ, NATS JetStream) as task transports, and a lazy consumer.

Layers, lowest first:

- ``bus/amqp.py`` and ``bus/nats.py``: thread-safe clients of one broker each (publish,
  fetch one message at a time, acknowledge). They know nothing of tasks.
- ``backends/amqp.py`` and ``backends/nats.py``: the Backend protocol on top of them, so a
  ``Basket("amqp://...")`` and ``taskbasket worker ... --url nats://...`` work unchanged.
  What they share (the task message, dead-letter inspection, the operations a bus cannot
  do) is :class:`BusBackendBase` below.
- ``bus/consumer.py``: :class:`BusConsumer`, a standalone lazy consumer of raw messages.

Every consumer here is lazy (seed 000): it takes one message from the broker only when a
caller can use it now, and never buffers more than it was asked for.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from taskbasket.backends.base import (
    BackendBase,
    BackendKind,
    Capabilities,
    ClaimedTask,
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
from taskbasket.errors import ConfigurationError, StoreCorruptedError, UnsupportedOperationError
from taskbasket.storable import storable_text
from taskbasket.task import State

if TYPE_CHECKING:
    from taskbasket.bus.consumer import BusConsumer

__all__ = [
    "BusBackendBase", "BusConsumer", "Message", "RecentIds", "TaskMessage", "split_bus_url",
]

log = logging.getLogger("taskbasket.worker")

DEFAULT_PREFIX = "taskbasket"
DEFAULT_QUEUE = "default"
"""The basket's default queue: what a bus worker serves besides the queues it knows."""
MAX_BUS_QUEUE_LENGTH = 150
QUEUE_REFRESH_SECONDS = 10.0
"""How often a worker without ``--queues`` looks for queues created since it started."""
UNKNOWN_NAME_DELAY = 5.0
"""A task no handler of this worker knows goes back to its queue after this many seconds."""
EARLY_TOLERANCE = 1.0
"""A message that arrives more than this before its run_at (clock skew, very long delays)
is delayed again for the rest of the time instead of running early."""

_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,64}")


def __getattr__(name: str) -> Any:  # BusConsumer imports a driver only when used
    if name == "BusConsumer":
        from taskbasket.bus.consumer import BusConsumer

        return BusConsumer
    raise AttributeError(name)


def split_bus_url(url: str) -> tuple[str, str]:
    """The broker URL without taskbasket's ``?prefix=`` option, and that prefix.

    The prefix (default ``taskbasket``) names every queue, exchange, stream and subject
    taskbasket creates, so several applications (or tests) can share one broker.
    """
    parts = urlsplit(url)
    prefix = DEFAULT_PREFIX
    rest: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "prefix":
            prefix = value
        else:
            rest.append((key, value))
    if not _PREFIX.fullmatch(prefix):
        raise ConfigurationError(
            f"prefix {prefix!r} in {url!r} is not valid: use 1-64 letters, digits, '_' or "
            "'-' (it names queues, streams and subjects), e.g. ?prefix=myapp"
        )
    return urlunsplit(parts._replace(query=urlencode(rest))), prefix


def check_bus_queue(queue: str) -> str:
    """A queue name a bus can route: no wildcard characters, at most 150 characters."""
    bad = sorted({c for c in queue if c in "*#>" or c.isspace()})
    if bad:
        raise ConfigurationError(
            f"queue name {queue!r} has {''.join(bad)!r}, which message buses treat as "
            "wildcards or separators; use letters, digits, '.', '_' or '-'"
        )
    if len(queue) > MAX_BUS_QUEUE_LENGTH:
        raise ConfigurationError(
            f"queue name {queue!r} is {len(queue)} characters; on a message bus the limit "
            f"is {MAX_BUS_QUEUE_LENGTH} (the broker's names include a prefix and a suffix)"
        )
    if queue.endswith(".dead"):
        raise ConfigurationError(
            f"queue name {queue!r} ends with '.dead', which names dead-letter queues on a "
            "message bus; choose another name"
        )
    return queue


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class Message:
    """One message a :class:`BusConsumer` received; ``ack`` it when it is processed."""

    id: str
    body: bytes
    redelivered: bool
    """The broker delivered it before (a consumer died or handed it back unacknowledged)."""
    headers: dict[str, str] = field(default_factory=dict)
    token: Any = field(default=None, repr=False, compare=False)
    """The transport's handle of this delivery (used by ``ack``)."""


@dataclass(frozen=True, slots=True)
class TaskMessage:
    """A task as a bus carries it: the JSON body of one message (message id = task id).

    ``attempts`` counts the attempts made before this message was published; times are
    Unix seconds. Dead letters carry ``last_error`` and ``failed_at``.
    """

    id: str
    name: str
    queue: str
    payload: str
    priority: int
    max_attempts: int
    timeout: float
    attempts: int
    created_at: float
    run_at: float
    last_error: str | None = None
    failed_at: float | None = None

    @classmethod
    def from_new(cls, task: NewTask, now: float) -> TaskMessage:
        run_at = task.run_at.timestamp() if task.run_at is not None else now + task.delay
        return cls(
            id=task.id, name=task.name, queue=task.queue, payload=task.payload,
            priority=task.priority, max_attempts=task.max_attempts, timeout=task.timeout,
            attempts=0, created_at=now, run_at=run_at,
        )

    def encode(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes, where: str) -> TaskMessage:
        try:
            fields = json.loads(data)
            return cls(**fields)
        except (ValueError, TypeError, RecursionError) as exc:  # (nested too deeply)
            raise StoreCorruptedError(
                f"a message in {where} is not a taskbasket task ({exc}); it was moved to the "
                "dead-letter queue. Publish only taskbasket tasks to taskbasket's queues"
            ) from None

    def but(self, **changes: Any) -> TaskMessage:
        return replace(self, **changes)

    def claimed(self, attempts: int, token: str) -> ClaimedTask:
        return ClaimedTask(
            id=self.id, name=self.name, queue=self.queue, payload=self.payload,
            priority=self.priority, attempts=attempts, max_attempts=self.max_attempts,
            timeout=self.timeout, lease_token=token, created_at=_time(self.created_at),
            run_at=_time(self.run_at),
        )

    def stored(self, state: State) -> StoredTask:
        return StoredTask(
            id=self.id, name=self.name, queue=self.queue, state=state, payload=self.payload,
            priority=self.priority, attempts=self.attempts, max_attempts=self.max_attempts,
            timeout=self.timeout, unique_key=None, last_error=self.last_error,
            created_at=_time(self.created_at), run_at=_time(self.run_at), started_at=None,
            finished_at=_time(self.failed_at) if self.failed_at else None,
            lease_expires_at=None, worker_id=None,
        )

    def matches(self, task_filter: TaskFilter) -> bool:
        return (
            (not task_filter.ids or self.id in task_filter.ids)
            and (not task_filter.queues or self.queue in task_filter.queues)
            and (not task_filter.names or self.name in task_filter.names)
        )


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


def corrupt_message(message_id: str | None, queue: str, data: bytes, error: str) -> TaskMessage:
    """A dead letter standing for a message that is not a task, keeping its body as text."""
    now = time.time()
    return TaskMessage(
        id=message_id or "unknown", name="(not a task)", queue=queue,
        payload=data.decode("utf-8", "replace"), priority=0, max_attempts=1, timeout=1.0,
        attempts=0, created_at=now, run_at=now, last_error=storable_text(error), failed_at=now,
    )


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


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

    def tasks_cancel(self, task_filter: TaskFilter) -> int:
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


