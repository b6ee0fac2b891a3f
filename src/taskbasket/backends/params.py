"""The Backend's parameter and record types: what the core passes to a store and gets back.

Every Backend method takes one of these frozen dataclasses (so adding a field never breaks
a backend): a task to insert, a claim, an outcome, a filter or listing, a maintenance step,
and the records a store returns (a claimed task, an expired lease, a stored task).
``taskbasket.backends.base`` re-exports every name here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from taskbasket.backends.flow_params import ClaimLimits
from taskbasket.task import State


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
    depends_on: tuple[str, ...] = ()
    """Ids of the tasks it waits for (see ``workflow_params``): each stored already, or
    earlier in the same insert. With any not succeeded, the task is inserted ``waiting``."""
    workflow_id: str | None = None
    """The workflow it belongs to (listed by ``TaskFilter.workflow_id``)."""
    limit_key: str | None = None
    """The value a task's limits count per (``flow_params``); None: the name as a whole."""


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
    limits: ClaimLimits | None = None
    """The limits to claim under (``backends.admission`` is the rule); None: none. A
    claim never takes a task of a paused queue, with or without limits."""


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
    limit_key: str | None = None
    snoozes: int = 0
    """How many times the task was snoozed (``Snooze``) since it was enqueued or retried."""
    history: str | None = None
    """The task's history as stored (JSON, see ``taskbasket.history``), None when none."""

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
    DEFERRED = "deferred"
    """The attempt ends without costing one: ``scheduled`` until ``retry_at`` (or
    ``retry_delay`` seconds after the store's now), the claim's attempt given back, and
    ``snoozes`` grown by the outcome's ``snoozes_added`` (a ``Snooze`` adds one; a
    durable sleep may add none). ``last_error`` is left as it was."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The end of one attempt, recorded only if ``lease`` is still the current one.

    RETRY makes the task ``retrying`` until ``retry_at`` (or ``retry_delay`` seconds after
    the store's now); SUCCEEDED and FAILED are final; RELEASED is described on its kind.
    SUCCEEDED with ``delete_on_success`` removes the task instead, in the same fenced,
    atomic step (a stale success deletes nothing). A SUCCEEDED ``result`` (the handler's
    return value, encoded JSON) is written in that same fenced step, so a stale attempt
    never writes one.
    """

    lease: Lease
    kind: OutcomeKind
    error: str | None = None
    retry_delay: float = 0.0
    retry_at: datetime | None = None
    delete_on_success: bool = False
    result: str | None = None
    history: str | None = None
    """The task's new history (JSON), written in the same fenced step; None: unchanged."""
    snoozes_added: int = 0
    """DEFERRED only: how much the task's ``snoozes`` count grows."""


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
    workflow_id: str | None = None
    """The tasks of one workflow: those whose ``workflow_id`` it is, and the task whose
    id it is (a workflow's first task, joined later by ``after=``)."""


@dataclass(frozen=True, slots=True)
class CancelParams:
    """Cancel the tasks ``filter`` selects that are not final: each becomes ``cancelled``
    with ``reason`` as its ``last_error``, and a running one loses its lease (so its
    attempt can record nothing); the store then wakes its ``cancel_listener``s."""

    filter: TaskFilter
    reason: str


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
    its counts say, so one bad row never stalls the rescue of the others. ``worker_id``,
    ``started_at`` and ``history`` (the stored JSON, see ``taskbasket.history``) are what
    the core needs to record the lost attempt in the task's history; a store reads them,
    it never builds the history.
    """

    id: str
    lease_token: str
    name: str
    queue: str
    attempts: int
    max_attempts: int
    corrupt: str | None = None
    worker_id: str | None = None
    started_at: datetime | None = None
    history: str | None = None

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
    ``delay`` seconds after the store's now; without one, ``queued`` and due now.
    ``history`` is the task's new history (JSON), written in the same fenced step; None:
    unchanged."""

    lease: Lease
    kind: RescueKind
    error: str
    delay: float = 0.0
    history: str | None = None


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
class ProgressParams:
    """Record ``progress`` (JSON: done, total, note, updated_at) on the task that ``lease``
    holds, only if that lease is still the current one (a stale attempt writes nothing)."""

    lease: Lease
    progress: str


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
    result: str | None = None
    """The encoded result of a succeeded task (JSON), None when it has none."""
    progress: str | None = None
    """The last progress report (JSON: done, total, note, updated_at), None when none."""
    workflow_id: str | None = None
    """The workflow it belongs to, None when it belongs to none."""
    limit_key: str | None = None
    """The value its task's limits count per (flow control), None when it has none."""
    snoozes: int = 0
    """How many times the task was snoozed since it was enqueued or retried."""
    history: str | None = None
    """The task's history (JSON, see ``taskbasket.history``), None when it has none."""


@dataclass(frozen=True, slots=True)
class TaskEditParams:
    """Edit a failed or cancelled task and queue it again, in one atomic step.

    Applied only if the task is ``failed`` or ``cancelled`` and its stored history is
    still ``expected_history`` (what the caller read: a task that ran, or was edited,
    meanwhile is left alone), and no other unfinished task holds its unique key. Then
    ``payload``, ``queue`` and ``priority`` are set where not None, ``history`` is
    written, and the task is ``queued`` due now with ``attempts`` and ``snoozes`` at zero
    (as ``tasks_retry`` does).
    """

    task_id: str
    expected_history: str | None
    history: str
    payload: str | None = None
    queue: str | None = None
    priority: int | None = None



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


