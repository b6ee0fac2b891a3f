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
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from taskbasket.backends.capabilities import BackendKind, Capabilities, Inspection
from taskbasket.backends.flow_params import QueueUpdateParams, StoredQueue
from taskbasket.backends.params import (
    CancelParams,
    ClaimedTask,
    ClaimOrder,
    ClaimParams,
    CountByNameParams,
    ExpiredLease,
    LeaderParams,
    Lease,
    LeaseExtendParams,
    LeaseRescue,
    LeasesExpiredParams,
    LeasesRescueParams,
    ListParams,
    NewTask,
    Outcome,
    OutcomeKind,
    ProgressParams,
    PromoteParams,
    PruneParams,
    RescueKind,
    StoredTask,
    TaskEditParams,
    TaskFilter,
    stored_state,
)
from taskbasket.backends.schedule_params import (
    ScheduleDeleteParams,
    ScheduleFireParams,
    ScheduleListParams,
    SchedulePauseParams,
    ScheduleUpsertParams,
    StoredSchedule,
    from_micros,
    to_micros,
)
from taskbasket.backends.step_params import (
    MessagesSendParams,
    MessagesSwap,
    StepsListParams,
    StepsRecordParams,
    StoredSteps,
)
from taskbasket.backends.worker_params import (
    StoredWorker,
    WorkersBeatParams,
    WorkersListParams,
    WorkersRemoveParams,
)
from taskbasket.backends.workflow_params import DependenciesListParams
from taskbasket.errors import BackendUnavailableError, UnsupportedOperationError
from taskbasket.redaction import redact_url as redact_url  # its old home: still importable
from taskbasket.task import CorruptTask, State, TaskRef

__all__ = [  # the parameter, record and capability types keep this, their old home
    "COUNT_BY_NAME_FALLBACK_ROWS",
    "Backend",
    "BackendBase",
    "BackendKind",
    "CancelParams",
    "Capabilities",
    "ClaimOrder",
    "ClaimParams",
    "ClaimedTask",
    "CountByNameParams",
    "DependenciesListParams",
    "ExpiredLease",
    "FiniteBackend",
    "Inspection",
    "LeaderLock",
    "LeaderParams",
    "Lease",
    "LeaseExtendParams",
    "LeaseRescue",
    "LeasesExpiredParams",
    "LeasesRescueParams",
    "ListParams",
    "Listener",
    "MessagesSendParams",
    "MessagesSwap",
    "NewTask",
    "Outcome",
    "OutcomeKind",
    "PollingListener",
    "ProgressParams",
    "PromoteParams",
    "PruneParams",
    "QueueUpdateParams",
    "RescueKind",
    "ScheduleDeleteParams",
    "ScheduleFireParams",
    "ScheduleListParams",
    "SchedulePauseParams",
    "ScheduleUpsertParams",
    "StepsListParams",
    "StepsRecordParams",
    "StoredQueue",
    "StoredSchedule",
    "StoredSteps",
    "StoredTask",
    "StoredWorker",
    "TaskEditParams",
    "TaskFilter",
    "WorkersBeatParams",
    "WorkersListParams",
    "WorkersRemoveParams",
    "columns_without_payload",
    "from_micros",
    "redact_url",
    "stored_state",
    "to_micros",
]


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

    def tasks_progress(self, params: ProgressParams) -> bool:
        """Record a progress report, fenced by its lease; True if the lease was current."""
        ...

    def finish_listener(self) -> Listener:
        """A listener woken when some task may have become final (a store that cannot
        push returns a ``PollingListener``: the waiting core then polls)."""
        ...

    def cancel_listener(self) -> Listener:
        """A listener woken when some task may have been cancelled (``tasks_cancel``), so
        a worker re-reads the tasks it runs; a store that cannot push returns a
        ``PollingListener``: the worker then polls its running tasks."""
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

    def tasks_edit(self, params: TaskEditParams) -> bool:
        """Edit a failed or cancelled task and queue it again, atomically (see the
        params); True if it was applied (``capabilities.edit_retry``)."""
        ...

    def steps_list(self, params: StepsListParams) -> StoredSteps | None:
        """A task's completed steps and messages as stored, None if there is no such task
        (``capabilities.steps``)."""
        ...

    def steps_record(self, params: StepsRecordParams) -> bool:
        """Write a task's steps (and swap its messages), fenced by the lease; True if the
        lease was current (and the messages unchanged)."""
        ...

    def messages_send(self, params: MessagesSendParams) -> bool:
        """Swap the messages of a task that is not final and wake it if asked; True if
        applied (False: no such task, it is final, or its messages changed meanwhile)."""
        ...

    def tasks_cancel(self, params: CancelParams) -> int:
        """Cancel matching tasks that are not final, with the reason as ``last_error``
        (running ones lose their lease); how many. Wakes the ``cancel_listener``s."""
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

    # schedules (``capabilities.schedules``; see ``schedule_params``): rows the core reads
    def schedules_upsert(self, params: ScheduleUpsertParams) -> None: ...

    def schedules_list(self, params: ScheduleListParams) -> list[StoredSchedule]: ...

    def schedules_fire(self, params: ScheduleFireParams) -> bool:
        """The compare-and-set of a slot and the insert of its task, in one atomic step;
        True if this call fired it."""
        ...

    def schedules_set_paused(self, params: SchedulePauseParams) -> bool: ...

    def schedules_delete(self, params: ScheduleDeleteParams) -> bool: ...

    # workflows (``capabilities.workflows``; the rules are ``workflow_params``'s)
    def dependencies_list(self, params: DependenciesListParams) -> dict[str, list[str]]:
        """The dependency ids of each given task (those it was inserted with, in order)."""
        ...

    # flow control (``capabilities.flow_control``; see ``flow_params``, ``admission``)
    def queues_update(self, params: QueueUpdateParams) -> None:
        """Create or change a queue's stored settings (paused, limits), atomically."""
        ...

    def queues_list(self) -> list[StoredQueue]:
        """Every queue that has stored settings."""
        ...

    # the worker registry (``capabilities.worker_registry``; see ``worker_params``)
    def workers_beat(self, params: WorkersBeatParams) -> None: ...

    def workers_list(self, params: WorkersListParams) -> list[StoredWorker]: ...

    def workers_remove(self, params: WorkersRemoveParams) -> int: ...


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

    def tasks_progress(self, params: ProgressParams) -> bool:
        return False  # a store that keeps no progress records none

    def finish_listener(self) -> Listener:
        return PollingListener()

    def tasks_edit(self, params: TaskEditParams) -> bool:
        raise UnsupportedOperationError(
            f"{type(self).__name__} cannot edit a task and retry it: it keeps no task row "
            "to change")

    def steps_list(self, params: StepsListParams) -> StoredSteps | None:
        raise self.steps_unsupported()

    def steps_record(self, params: StepsRecordParams) -> bool:
        raise self.steps_unsupported()

    def messages_send(self, params: MessagesSendParams) -> bool:
        raise self.steps_unsupported()

    def steps_unsupported(self) -> UnsupportedOperationError:
        """The error of a step or message operation on a backend that keeps no task row."""
        return UnsupportedOperationError(
            f"{type(self).__name__} cannot keep durable steps, sleeps or messages (it keeps "
            "no task row to store them in); use a store: SQLite, PostgreSQL, MySQL, Redis "
            "or memory")
    def cancel_listener(self) -> Listener:
        return PollingListener()

    def schedules_unsupported(self) -> UnsupportedOperationError:
        """The error of a schedule operation on a backend that cannot keep schedules."""
        return UnsupportedOperationError(f"{type(self).__name__} cannot keep schedules")

    def schedules_upsert(self, params: ScheduleUpsertParams) -> None:
        raise self.schedules_unsupported()

    def schedules_list(self, params: ScheduleListParams) -> list[StoredSchedule]:
        raise self.schedules_unsupported()

    def schedules_fire(self, params: ScheduleFireParams) -> bool:
        raise self.schedules_unsupported()

    def schedules_set_paused(self, params: SchedulePauseParams) -> bool:
        raise self.schedules_unsupported()

    def schedules_delete(self, params: ScheduleDeleteParams) -> bool:
        raise self.schedules_unsupported()

    def dependencies_list(self, params: DependenciesListParams) -> dict[str, list[str]]:
        raise UnsupportedOperationError(f"{type(self).__name__} cannot keep workflows")

    def flow_unsupported(self) -> UnsupportedOperationError:
        """The error of pausing or limiting on a backend that cannot."""
        return UnsupportedOperationError(
            f"{type(self).__name__} cannot pause queues or limit concurrency and rates")

    def queues_update(self, params: QueueUpdateParams) -> None:
        raise self.flow_unsupported()

    def queues_list(self) -> list[StoredQueue]:
        return []  # a backend without flow control has no queue settings

    def workers_unsupported(self) -> UnsupportedOperationError:
        """The error of a worker registry operation on a backend that keeps no registry."""
        return UnsupportedOperationError(
            f"{type(self).__name__} cannot keep a worker registry (it keeps no rows); "
            "use a store (SQLite, PostgreSQL, MySQL, Redis or memory) to list workers")

    def workers_beat(self, params: WorkersBeatParams) -> None:
        raise self.workers_unsupported()

    def workers_list(self, params: WorkersListParams) -> list[StoredWorker]:
        raise self.workers_unsupported()

    def workers_remove(self, params: WorkersRemoveParams) -> int:
        raise self.workers_unsupported()

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
    """A SQL select list with its ``payload`` column read as '' and its ``result`` and
    ``history`` columns (if any) as NULL (``with_payload=False``: a listing reads none)."""
    parts = [part.strip() for part in columns.split(",")]
    if parts.count("payload") != 1:
        raise ValueError(f"no single payload column in {columns!r}")
    blank = {"payload": "'' AS payload", "result": "NULL AS result",
             "history": "NULL AS history"}
    return ", ".join(blank.get(part, part) for part in parts)


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
