"""The Backend protocol: the one door between queue semantics and a store.

A backend stores tasks, claims them under a lease, and changes their state atomically. It
knows nothing of handlers, retries policies or workers: the core decides *what* happens
(for example "retry in 8 s") and the backend makes it happen in one atomic step, fenced
by the lease token so that a worker that lost its lease can never record an outcome.

Every method takes one parameter object, so adding a field never breaks a backend. Every
backend passes the suite in ``tests/conformance``. Task ids are UUID strings (version 7,
made by the client, so they sort by creation time); a store may keep them as native UUIDs,
and an id that is not a UUID matches no task.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from taskbasket.errors import BackendUnavailableError
from taskbasket.redaction import redact_url as redact_url  # its old home: still importable
from taskbasket.task import CorruptTask, State, TaskRef

# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True, slots=True)
class NewTask:
    """One task to insert. ``payload`` is the encoded arguments (JSON text).

    The task becomes due at ``run_at`` if given, else ``delay`` seconds after the store's
    clock reads now (0 means now). A due task is ``queued``, a future one ``scheduled``.
    """

    id: str
    name: str
    queue: str
    payload: str
    priority: int = 0
    max_attempts: int = 10
    timeout: float = 300.0
    unique_key: str | None = None
    delay: float = 0.0
    run_at: datetime | None = None


class ClaimOrder(enum.StrEnum):
    """Which due tasks a claim takes first."""

    PRIORITY = "priority"
    """Higher priority first, then earlier run_at, then earlier enqueue (the default)."""
    CREATED = "created"
    """Earlier enqueue first, whatever the priority and run_at: by id, as task ids are
    UUIDv7 and sort by the time they were made."""


@dataclass(frozen=True, slots=True)
class ClaimParams:
    """Claim up to ``limit`` due tasks whose name is in ``names`` (never others).

    ``names`` None means every name and ``queues`` None every queue. Each claimed task
    moves to ``running``, its ``attempts`` grows by one (unless ``count_attempt`` is
    False: the outbox relay's claims move tasks without running them), and it gets a
    fresh ``lease_token`` and a lease that ends ``lease_seconds`` from the store's now.
    ``order`` says which due tasks come first; a store walks an index in that order. A
    store without ``capabilities.created_order`` raises UnsupportedOperationError for
    ``ClaimOrder.CREATED``.
    """

    worker_id: str
    names: Sequence[str] | None
    limit: int
    lease_seconds: float
    queues: Sequence[str] | None = None
    count_attempt: bool = True
    order: ClaimOrder = ClaimOrder.PRIORITY


@dataclass(frozen=True, slots=True)
class Lease:
    """Proof of holding a task: its id and the token its claim handed out."""

    task_id: str
    token: str


@dataclass(frozen=True, slots=True)
class ClaimedTask:
    """A task as a claim hands it to a worker."""

    id: str
    name: str
    queue: str
    payload: str
    priority: int
    attempts: int
    max_attempts: int
    timeout: float
    lease_token: str
    created_at: datetime
    run_at: datetime
    unique_key: str | None = None

    @property
    def lease(self) -> Lease:
        return Lease(self.id, self.lease_token)


@dataclass(frozen=True, slots=True)
class LeaseExtendParams:
    """Extend each held lease to ``lease_seconds`` from the store's now."""

    leases: Sequence[Lease]
    lease_seconds: float


class OutcomeKind(enum.StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    FAILED = "failed"
    RELEASED = "released"
    """Handed back unstarted: back to ``queued``, the claim's attempt not counted."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The end of one attempt, recorded only if ``lease`` is still the current one.

    RETRY makes the task ``retrying`` until ``retry_at`` (or ``retry_delay`` seconds after
    the store's now); SUCCEEDED and FAILED are final; RELEASED is described on its kind.
    SUCCEEDED with ``delete_on_success`` removes the task instead, in the same fenced,
    atomic step (a stale success deletes nothing).
    """

    lease: Lease
    kind: OutcomeKind
    error: str | None = None
    retry_delay: float = 0.0
    retry_at: datetime | None = None
    delete_on_success: bool = False


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """Selects tasks for inspection and operator actions. Empty fields select all.

    ``finished_before`` keeps final tasks that finished more than that many seconds ago
    (by the store's clock).
    """

    ids: Sequence[str] | None = None
    states: Sequence[State] | None = None
    queues: Sequence[str] | None = None
    names: Sequence[str] | None = None
    finished_before: float | None = None


@dataclass(frozen=True, slots=True)
class ListParams:
    """A page of tasks, newest first; ``before_id`` is the cursor (the last id seen).

    With ``with_payload`` False the caller needs no arguments (a listing that does not
    show them, a check for changes): a store then returns ``payload`` as "" and does not
    read it, so a page costs its rows' small columns only, however large the arguments.
    """

    filter: TaskFilter = field(default_factory=TaskFilter)
    limit: int = 50
    before_id: str | None = None
    with_payload: bool = True


@dataclass(frozen=True, slots=True)
class CountByNameParams:
    """Count the tasks of each name among the tasks in ``states``."""

    states: Sequence[State]


@dataclass(frozen=True, slots=True)
class LeasesExpiredParams:
    """Find up to ``limit`` running tasks whose lease ended before the store's now,
    those that expired first first. Finding changes nothing."""

    limit: int = 1000


@dataclass(frozen=True, slots=True)
class ExpiredLease:
    """A running task whose lease ran out: what the core needs to decide its fate.

    ``corrupt`` is what is wrong with its stored row, if the store found it unsound (see
    ``backends/rows.expired_lease``): the core then fails it with that reason, whatever
    its counts say, so one bad row never stalls the rescue of the others.
    """

    id: str
    lease_token: str
    name: str
    queue: str
    attempts: int
    max_attempts: int
    corrupt: str | None = None

    @property
    def lease(self) -> Lease:
        return Lease(self.id, self.lease_token)


class RescueKind(enum.StrEnum):
    REQUEUE = "requeue"
    """Back to ``queued`` (or ``retrying`` until its delay ends); attempts stay counted."""
    FAIL = "fail"
    """Final: ``failed``, with the error."""


@dataclass(frozen=True, slots=True)
class LeaseRescue:
    """The core's decision about one expired lease; ``error`` becomes the task's
    ``last_error``. A REQUEUE with a ``delay`` makes the task ``retrying`` until
    ``delay`` seconds after the store's now; without one, ``queued`` and due now."""

    lease: Lease
    kind: RescueKind
    error: str
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class LeasesRescueParams:
    """Apply each decision atomically, and only to a task that is still ``running``
    under that lease token with its lease still expired: a lease that was renewed,
    finished, cancelled or rescued meanwhile is left untouched."""

    rescues: Sequence[LeaseRescue]


@dataclass(frozen=True, slots=True)
class PromoteParams:
    """Make up to ``limit`` ``scheduled`` and ``retrying`` tasks whose ``run_at`` has
    passed ``queued``, so the inspector shows them as ready (claims take them either way).
    """

    limit: int = 1000


@dataclass(frozen=True, slots=True)
class PruneParams:
    """Delete up to ``limit`` final tasks of the states in ``older_than`` that finished
    more than that many seconds before the store's now. Fewer than ``limit`` deleted
    means none is left to delete; the caller repeats for the next batch."""

    older_than: Mapping[State, float]
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class LeaderParams:
    """A term of leadership: ``holder`` (a process's unique id) leads ``name`` until
    ``ttl`` seconds after the store's now, unless it renews."""

    name: str
    holder: str
    ttl: float


@dataclass(frozen=True, slots=True)
class StoredTask:
    """A task row as stored; the core decodes ``payload`` into arguments."""

    id: str
    name: str
    queue: str
    state: State
    payload: str
    priority: int
    attempts: int
    max_attempts: int
    timeout: float
    unique_key: str | None
    last_error: str | None
    created_at: datetime
    run_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    lease_expires_at: datetime | None
    worker_id: str | None


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
    shared_between_processes: bool = True
    """Other processes (worker processes, the command line) opening the same URL see the
    same tasks; False for a store kept in one process's memory (``memory://``)."""

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
    def is_bus(self) -> bool:
        return self.kind is BackendKind.BUS


def stored_state(task_id: str, value: str) -> State:
    """A stored state, or a StoreCorruptedError naming the task and the bad value."""
    from taskbasket.errors import StoreCorruptedError

    try:
        return State(value)
    except ValueError:
        raise StoreCorruptedError(
            f"task {task_id} has unknown state {value!r} in the store (not written by "
            f"taskbasket); set it to one of {', '.join(s.value for s in State)} or delete "
            "the task"
        ) from None


# --------------------------------------------------------------------------- protocol


@runtime_checkable
class Listener(Protocol):
    """Wakes an idle worker when tasks may have become ready."""

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True if woken by a notification, or if
        notifications may have been missed (after a reconnect), so the worker claims."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Backend(Protocol):
    """A store of tasks. Thread-safe: a worker calls it from several threads."""

    url: str
    capabilities: Capabilities

    def migrate(self) -> None:
        """Create or upgrade the schema; safe when many processes call it at once."""
        ...

    def close(self) -> None: ...

    def now(self) -> datetime:
        """The store's clock (UTC)."""
        ...

    # producers
    def tasks_insert(self, tasks: Sequence[NewTask], connection: Any = None) -> list[TaskRef]:
        """Insert tasks atomically (all or none); one TaskRef per task, in order.

        A task whose unique key is held by a task that is not final is not inserted; its
        ref carries the existing task's id and ``created=False``. With ``connection`` (the
        application's own, where ``capabilities.transactional_enqueue``) the insert joins
        that connection's transaction and is neither committed nor rolled back here.
        """
        ...

    async def tasks_insert_async(
        self, tasks: Sequence[NewTask], connection: Any = None
    ) -> list[TaskRef]:
        """``tasks_insert`` without blocking the event loop."""
        ...

    # workers
    def tasks_claim(self, params: ClaimParams) -> list[ClaimedTask]: ...

    def leases_extend(self, params: LeaseExtendParams) -> set[str]:
        """Extend the given leases; return the ids of tasks whose lease is still held."""
        ...

    def tasks_finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """Record outcomes in one batch; for each, True if its lease was still current."""
        ...

    def is_transient(self, exc: BaseException) -> bool:
        """True if ``exc``, raised by a call of this backend, says the store could not be
        reached or was busy (a lost connection, an outage, a lock timeout), so the same call
        may succeed later; False if the store refused the call's input, so repeating it
        fails again. The worker retries only transient errors with backoff."""
        ...

    def listener(self, queues: Sequence[str] | None) -> Listener:
        """A listener for tasks becoming ready in ``queues`` (None: all)."""
        ...

    # inspection and operators
    def tasks_get(self, task_id: str) -> StoredTask | CorruptTask | None:
        """The task, or a CorruptTask if its row cannot be read (see ``backends/rows``)."""
        ...

    def tasks_list(self, params: ListParams) -> Sequence[StoredTask | CorruptTask]:
        """A page of tasks; a row that cannot be read is a CorruptTask in its place."""
        ...

    def tasks_count(self, task_filter: TaskFilter) -> int: ...

    def tasks_stats(self) -> dict[tuple[str, State], int]:
        """Task counts per (queue, state); states with no task may be absent."""
        ...

    def tasks_count_by_name(self, params: CountByNameParams) -> dict[str, int]:
        """Task counts per name in the given states; names with none may be absent.

        A grouped count in the store, never a read of the tasks themselves (``BackendBase``
        has a fallback, bounded, for stores that have no such count).
        """
        ...

    def tasks_retry(self, task_filter: TaskFilter) -> int:
        """Make matching failed, cancelled, retrying or scheduled tasks queued now.

        Attempts restart from zero. A task whose unique key is now held by another task
        that is not final is left as it is. Returns how many changed.
        """
        ...

    def tasks_cancel(self, task_filter: TaskFilter) -> int:
        """Cancel matching tasks that are not final (running ones lose their lease)."""
        ...

    def tasks_delete(self, task_filter: TaskFilter) -> int: ...

    # maintenance: the data operations the core's services (taskbasket.maintenance) use
    def leases_expired(self, params: LeasesExpiredParams) -> list[ExpiredLease]:
        """Running tasks whose lease ended (see the params); a bus has none."""
        ...

    def leases_rescue(self, params: LeasesRescueParams) -> list[bool]:
        """Apply the core's rescue decisions; for each, True if it was applied."""
        ...

    def tasks_promote(self, params: PromoteParams) -> int:
        """Make due scheduled and retrying tasks queued; how many."""
        ...

    def tasks_prune(self, params: PruneParams) -> int:
        """Delete one batch of old final tasks; how many."""
        ...


@runtime_checkable
class LeaderLock(Protocol):
    """Optional: terms of leadership kept in the store, so that one process of all those
    sharing it runs maintenance. A term ends when its ttl runs out without a renewal,
    so a SIGKILLed leader is replaced within about one ttl. Leadership saves work and is
    not what correctness rests on: every maintenance operation is atomic and fenced."""

    def leader_try(self, params: LeaderParams) -> bool:
        """Start or renew ``holder``'s term (until ``ttl`` after the store's now) if
        ``name`` has no leader, its leader's term ran out, or ``holder`` leads it; True
        if ``holder`` leads now, False while another holder's term runs."""
        ...

    def leader_resign(self, params: LeaderParams) -> None:
        """End ``holder``'s term of ``name`` now, if it leads (a graceful stop)."""
        ...


@runtime_checkable
class FiniteBackend(Protocol):
    """Optional: a backend whose input can run out (``file://``, ``stdin://``).

    ``finished()`` turns True once its input is exhausted and it holds no task and no
    retry; ``Worker.run`` then stops (as on SIGTERM) and returns.
    """

    def finished(self) -> bool: ...


COUNT_BY_NAME_FALLBACK_ROWS = 10_000
"""The fallback ``tasks_count_by_name`` counts among at most this many newest tasks."""


class BackendBase:
    """Shared defaults for backends: the async insert runs the sync one in a thread, and
    ``is_transient`` is true of the errors in ``transient_errors``."""

    transient_errors: tuple[type[BaseException], ...] = (BackendUnavailableError, OSError)
    """Errors that say the store could not be reached (a backend adds its driver's)."""

    def is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, self.transient_errors)

    def tasks_insert(self, tasks: Sequence[NewTask], connection: Any = None) -> list[TaskRef]:
        raise NotImplementedError

    async def tasks_insert_async(
        self, tasks: Sequence[NewTask], connection: Any = None
    ) -> list[TaskRef]:
        return await asyncio.to_thread(self.tasks_insert, tasks, connection)

    def tasks_list(self, params: ListParams) -> Sequence[StoredTask | CorruptTask]:
        raise NotImplementedError

    def tasks_count_by_name(self, params: CountByNameParams) -> dict[str, int]:
        """Counted from a listing without payloads, for stores with no grouped count; a
        corrupt task (no name to trust) is not counted."""
        rows = self.tasks_list(ListParams(TaskFilter(states=list(params.states)),
                                          limit=COUNT_BY_NAME_FALLBACK_ROWS,
                                          with_payload=False))
        counts: dict[str, int] = {}
        for row in rows:
            if not isinstance(row, CorruptTask):
                counts[row.name] = counts.get(row.name, 0) + 1
        return counts


def columns_without_payload(columns: str) -> str:
    """A SQL select list with its ``payload`` column read as '' (``with_payload=False``)."""
    parts = [part.strip() for part in columns.split(",")]
    if parts.count("payload") != 1:
        raise ValueError(f"no single payload column in {columns!r}")
    return ", ".join("'' AS payload" if part == "payload" else part for part in parts)


class PollingListener:
    """A listener for stores without notifications: it just waits out the timeout."""

    def __init__(self) -> None:
        import threading

        self._closed = threading.Event()

    def wait(self, timeout: float) -> bool:
        self._closed.wait(timeout)
        return False

    def close(self) -> None:
        self._closed.set()
