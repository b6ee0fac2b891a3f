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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from taskbasket.redaction import redact_url as redact_url  # its old home: still importable
from taskbasket.task import FINAL_STATES, CorruptTask, State, TaskRef

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


@dataclass(frozen=True, slots=True)
class ClaimParams:
    """Claim up to ``limit`` due tasks whose name is in ``names`` (never others).

    ``names`` None means every name and ``queues`` None every queue. Each claimed task
    moves to ``running``, its ``attempts`` grows by one (unless ``count_attempt`` is
    False: the outbox relay's claims move tasks without running them), and it gets a
    fresh ``lease_token`` and a lease that ends ``lease_seconds`` from the store's now.
    Order: priority desc, run_at, then id.
    """

    worker_id: str
    names: Sequence[str] | None
    limit: int
    lease_seconds: float
    queues: Sequence[str] | None = None
    count_attempt: bool = True


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
    """

    lease: Lease
    kind: OutcomeKind
    error: str | None = None
    retry_delay: float = 0.0
    retry_at: datetime | None = None


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
    """A page of tasks, newest first; ``before_id`` is the cursor (the last id seen)."""

    filter: TaskFilter = field(default_factory=TaskFilter)
    limit: int = 50
    before_id: str | None = None


@dataclass(frozen=True, slots=True)
class CleanParams:
    """Delete final tasks that finished over ``older_than`` seconds ago, in batches."""

    older_than: float
    states: Sequence[State] = tuple(sorted(FINAL_STATES))
    batch_size: int = 1000


@dataclass(frozen=True, slots=True)
class MaintainParams:
    """One maintenance pass: rescue up to ``limit`` expired leases, promote due tasks.

    Promoting moves ``scheduled`` and ``retrying`` tasks whose ``run_at`` has passed to
    ``queued``, so the inspector shows them as ready (claims take them either way).

    An expired lease whose task has attempts left goes back to ``queued``, due now; one
    that used its last attempt becomes ``failed`` with an error saying the lease expired.
    """

    limit: int = 1000


@dataclass(frozen=True, slots=True)
class MaintainResult:
    rescued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    promoted: int = 0


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


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a store can do, so the core and the conformance suite can tell."""

    transactional_enqueue: bool
    """Enqueue on the application's own connection, inside its transaction."""
    server_clock: bool
    """Leases and schedules use the server's clock, not this host's."""
    notifications: bool
    """Idle workers are woken when work arrives, not only by polling."""
    multi_host: bool
    """Workers on several hosts can share the store."""


def lease_expired_error(attempts: int, max_attempts: int) -> str:
    """The error recorded when a lease runs out: the same words on every backend."""
    if attempts == 0:  # a claim that counted no attempt: the outbox relay's
        return ("lease expired before any attempt: the relay that held it died or stalled; "
                "the task was requeued")
    if attempts >= max_attempts:
        return (
            f"lease expired on attempt {attempts} of {max_attempts}: the worker died or "
            "stalled without heartbeats; no attempts left, so the task failed"
        )
    return (
        f"lease expired on attempt {attempts} of {max_attempts}: the worker died or "
        "stalled without heartbeats; the task was requeued"
    )


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

    def maintain(self, params: MaintainParams) -> MaintainResult: ...

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

    def tasks_clean(self, params: CleanParams) -> int: ...


@runtime_checkable
class FiniteBackend(Protocol):
    """Optional: a backend whose input can run out (``file://``, ``stdin://``).

    ``finished()`` turns True once its input is exhausted and it holds no task and no
    retry; ``Worker.run`` then stops (as on SIGTERM) and returns.
    """

    def finished(self) -> bool: ...


class BackendBase:
    """Shared defaults for backends: the async insert runs the sync one in a thread."""

    def tasks_insert(self, tasks: Sequence[NewTask], connection: Any = None) -> list[TaskRef]:
        raise NotImplementedError

    async def tasks_insert_async(
        self, tasks: Sequence[NewTask], connection: Any = None
    ) -> list[TaskRef]:
        return await asyncio.to_thread(self.tasks_insert, tasks, connection)


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
