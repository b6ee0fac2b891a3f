"""The Backend methods of the memory store: each one atomic under the store's one lock,
with the semantics of the SQL stores (fencing by lease token, unique keys while not
final, RELEASED not counting an attempt), over the indexes of ``store.py``."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from taskbasket.backends.base import (
    BackendBase,
    CancelParams,
    Capabilities,
    ClaimedTask,
    ClaimOrder,
    ClaimParams,
    CountByNameParams,
    DependenciesListParams,
    ExpiredLease,
    LeaseExtendParams,
    LeasesExpiredParams,
    LeasesRescueParams,
    Listener,
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
)
from taskbasket.backends.memory.clock import Clock
from taskbasket.backends.memory.edits import edit_record, given_back
from taskbasket.backends.memory.flow import MemoryFlow, take_limited, unpaused
from taskbasket.backends.memory.leaders import MemoryLeaders
from taskbasket.backends.memory.listener import MemoryListener
from taskbasket.backends.memory.records import (
    check_new_tasks,
    check_outcomes,
    check_text,
    claimed,
    expired,
    matches,
    stored,
)
from taskbasket.backends.memory.registry import named_store
from taskbasket.backends.memory.schedules import MemorySchedules
from taskbasket.backends.memory.steps import MemorySteps
from taskbasket.backends.memory.store import MemoryStore, Record
from taskbasket.backends.memory.workers import MemoryWorkers
from taskbasket.backends.memory.workflows import MemoryWorkflowSteps
from taskbasket.backends.options import StoreOption, StoreOptions
from taskbasket.backends.rows import claimed_tasks, state_counts
from taskbasket.errors import ConfigurationError, UnsupportedOperationError
from taskbasket.ids import new_token
from taskbasket.task import FINAL_STATES, RETRYABLE_STATES, CorruptTask, State, TaskRef


def _as_clock(name: str, value: Any) -> Clock:
    if not isinstance(value, Clock) or isinstance(value, str):
        raise ConfigurationError(
            f"option {name}={value!r} must be a clock object with now() and time() (e.g. "
            "taskbasket.testing.FakeClock()), given as a keyword argument, not in the URL")
    return value


OPTIONS = StoreOptions("memory", [
    StoreOption("clock", None, "the store's clock, an object with now() and time() given "
                "as a keyword (e.g. taskbasket.testing.FakeClock()); this host's by default",
                _as_clock),
])

_FINAL = frozenset(s.value for s in FINAL_STATES)
_RETRYABLE = frozenset(s.value for s in RETRYABLE_STATES)
_WAITING = frozenset({State.SCHEDULED.value, State.RETRYING.value})


class MemoryBackend(MemorySteps, MemorySchedules, MemoryFlow, MemoryWorkers, MemoryLeaders,
                    BackendBase):
    """A store held in this process's memory (see ``taskbasket.backends.memory``)."""

    capabilities = Capabilities(
        transactional_enqueue=False, server_clock=True, notifications=True, multi_host=False,
        many_workers=True, leader_lock=True, created_order=True,
        shared_between_processes=False, flow_control=True, workflows=True,
    )

    def __init__(self, url: str, **options: Any) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() != "memory":
            raise ConfigurationError(f"not a memory store URL: {url!r}")
        values, _ = OPTIONS.read(url, options)
        clock: Clock | None = values["clock"]
        name = unquote(parts.netloc + parts.path).strip("/")
        self.url = url
        self.name = name or None
        """The store's name in this process (``memory://NAME``), None for a private one."""
        self.store = named_store(name, clock) if name else MemoryStore(clock)
        self._listeners: list[MemoryListener] = []

    @property
    def clock(self) -> Clock:
        return self.store.clock

    def migrate(self) -> None:
        """Nothing to create: a memory store has no schema."""

    def close(self) -> None:
        """Close this backend's listeners; the store (named or not) keeps its tasks."""
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()

    def now(self) -> datetime:
        return self.store.clock.now()

    def _selected(self, task_filter: TaskFilter, now: float) -> list[Record]:
        """The records a filter selects (a list: the caller may change them as it goes)."""
        tasks = self.store.tasks
        if task_filter.ids is not None:
            candidates: Iterable[Record] = [
                tasks[i] for i in dict.fromkeys(str(i) for i in task_filter.ids) if i in tasks]
        else:
            candidates = tasks.values()
        return [r for r in candidates if matches(r, task_filter, now)]

    # ------------------------------------------------------------------ producers

    def tasks_insert(self, tasks: Sequence[NewTask], connection: Any = None) -> list[TaskRef]:
        if connection is not None:
            raise UnsupportedOperationError(
                "the memory store cannot enqueue inside your database transaction "
                "(connection=...): it keeps tasks in this process, not in a database. "
                "Enqueue after the transaction commits, or keep tasks in PostgreSQL, MySQL "
                "or SQLite for transactional enqueue"
            )
        if not tasks:
            return []
        check_new_tasks(tasks)
        with self.store.condition:
            return self._insert_held(tasks)

    def _insert_held(self, tasks: Sequence[NewTask]) -> list[TaskRef]:
        """Insert checked tasks; the caller holds the store's lock."""
        store = self.store
        seen: set[str] = set()
        for task in tasks:
            if task.id in store.tasks or task.id in seen:
                raise ConfigurationError(f"task id {task.id!r} is taken in {self.url}")
            seen.add(task.id)
        now = store.clock.time()
        steps = MemoryWorkflowSteps(store, now)
        steps.check(tasks)
        refs: list[TaskRef] = []
        for task in tasks:
            holder = None if task.unique_key is None else store.key_holder(task.unique_key)
            if holder is not None:
                refs.append(TaskRef(holder, False))
                continue
            run_at = task.run_at.timestamp() if task.run_at is not None else now + task.delay
            store.add(Record(
                id=task.id, name=task.name, queue=task.queue,
                state=State.QUEUED if run_at <= now else State.SCHEDULED,
                payload=task.payload, priority=task.priority, attempts=0,
                max_attempts=task.max_attempts, timeout=task.timeout,
                unique_key=task.unique_key, created_at=now, run_at=run_at,
                limit_key=task.limit_key,
            ), now)
            refs.append(TaskRef(task.id, True))
        if any(task.depends_on or task.workflow_id for task in tasks):
            steps.insert(tasks, refs)
        store.wake()
        return refs

    # ------------------------------------------------------------------ workers

    def tasks_claim(self, params: ClaimParams) -> list[ClaimedTask]:
        if params.order not in (ClaimOrder.PRIORITY, ClaimOrder.CREATED):
            raise UnsupportedOperationError(f"unknown claim order {params.order!r}")
        if params.limit <= 0 or (params.names is not None and not params.names):
            return []
        token = new_token()
        by_created = params.order is ClaimOrder.CREATED
        taken: list[tuple[Any, ...]] = []
        store = self.store
        with store.condition:
            now = store.clock.time()
            store.move_due(now)
            keys = unpaused(store, store.due_keys(params.names, params.queues, by_created))
            limited = (None if params.limits is None else iter(take_limited(
                store, keys, by_created, params.limit, params.limits, now)))
            while len(taken) < params.limit:
                record = (store.pop_due(keys, by_created) if limited is None
                          else next(limited, None))
                if record is None:
                    break
                attempts = record.attempts
                if params.count_attempt:
                    attempts = attempts + 1 if isinstance(attempts, int) else attempts
                store.change(record, now, state=State.RUNNING, attempts=attempts,
                             lease_token=token, lease_expires_at=now + params.lease_seconds,
                             started_at=now, worker_id=params.worker_id)
                taken.append((record.id, record.name, record.queue, record.payload,
                              record.priority, record.attempts, record.max_attempts,
                              record.timeout, record.created_at, record.run_at,
                              record.unique_key, record.limit_key, record.snoozes,
                              record.history))
        return claimed_tasks(self, token, [
            (values[0], functools.partial(claimed, values, token)) for values in taken])

    def leases_extend(self, params: LeaseExtendParams) -> set[str]:
        held: set[str] = set()
        store = self.store
        with store.condition:
            expires = store.clock.time() + params.lease_seconds
            for lease in params.leases:
                record = self._leased(lease.task_id, lease.token)
                if record is not None:
                    store.change(record, store.clock.time(), lease_expires_at=expires)
                    held.add(lease.task_id)
        return held

    def _leased(self, task_id: str, token: str) -> Record | None:
        """The running record under this lease token, if it still is."""
        record = self.store.tasks.get(task_id)
        if record is None or record.state_value != State.RUNNING or record.lease_token != token:
            return None
        return record

    def tasks_finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        check_outcomes(outcomes)
        accepted: list[bool] = []
        store = self.store
        clear: dict[str, Any] = {"lease_token": None, "lease_expires_at": None}
        with store.condition:
            now = store.clock.time()
            for outcome in outcomes:
                record = self._leased(outcome.lease.task_id, outcome.lease.token)
                accepted.append(record is not None)
                if record is None:
                    continue
                if outcome.kind is OutcomeKind.SUCCEEDED and outcome.delete_on_success:
                    MemoryWorkflowSteps(store, now).release([record.id])
                    store.remove(record)
                    continue
                history = {} if outcome.history is None else {"history": outcome.history}
                run_at = (outcome.retry_at.timestamp() if outcome.retry_at is not None
                          else now + outcome.retry_delay)
                if outcome.kind is OutcomeKind.SUCCEEDED:
                    store.change(record, now, state=State.SUCCEEDED, finished_at=now,
                                 result=outcome.result, **history, **clear)
                elif outcome.kind is OutcomeKind.FAILED:
                    store.change(record, now, state=State.FAILED, finished_at=now,
                                 last_error=outcome.error, **history, **clear)
                elif outcome.kind is OutcomeKind.RETRY:
                    store.change(record, now, state=State.RETRYING, run_at=run_at,
                                 last_error=outcome.error, **history, **clear)
                elif outcome.kind is OutcomeKind.DEFERRED:
                    store.change(record, now, state=State.SCHEDULED, run_at=run_at,
                                 attempts=given_back(record.attempts),
                                 snoozes=record.snoozes + outcome.snoozes_added,
                                 **history, **clear)
                else:
                    store.change(record, now, state=State.QUEUED,
                                 attempts=given_back(record.attempts),
                                 started_at=None, worker_id=None, **clear)
            steps = MemoryWorkflowSteps(store, now)
            steps.cascade([o.lease.task_id for o, ok in zip(outcomes, accepted, strict=True)
                           if ok and o.kind is OutcomeKind.FAILED])
            steps.release([o.lease.task_id for o, ok in zip(outcomes, accepted, strict=True)
                           if ok and o.kind is OutcomeKind.SUCCEEDED
                           and not o.delete_on_success])
            store.wake()
        return accepted

    def listener(self, queues: Sequence[str] | None) -> Listener:
        listener = MemoryListener(self.store)
        self._listeners.append(listener)
        return listener

    def tasks_progress(self, params: ProgressParams) -> bool:
        with self.store.condition:
            record = self._leased(params.lease.task_id, params.lease.token)
            if record is not None:
                record.progress = params.progress
            return record is not None

    def finish_listener(self) -> Listener:
        return self.listener(None)  # the store's condition is notified by every finish

    def cancel_listener(self) -> Listener:
        return self.listener(None)  # and by every cancel (a re-read here costs no store call)

    # ------------------------------------------------------------------ maintenance

    def leases_expired(self, params: LeasesExpiredParams) -> list[ExpiredLease]:
        with self.store.condition:
            records = self.store.running_entries(self.store.clock.time(), max(0, params.limit))
            return [expired(r) for r in records]

    def leases_rescue(self, params: LeasesRescueParams) -> list[bool]:
        for rescue in params.rescues:
            check_text("the error", rescue.error)
            check_text("the history", rescue.history)
        applied: list[bool] = []
        store = self.store
        clear: dict[str, Any] = {"lease_token": None, "lease_expires_at": None}
        with store.condition:
            now = store.clock.time()
            for rescue in params.rescues:
                record = self._leased(rescue.lease.task_id, rescue.lease.token)
                expires = None if record is None else record.lease_expires_at
                if record is None or not isinstance(expires, int | float) or expires >= now:
                    applied.append(False)
                    continue
                applied.append(True)
                history = {} if rescue.history is None else {"history": rescue.history}
                if rescue.kind is RescueKind.FAIL:
                    store.change(record, now, state=State.FAILED, finished_at=now,
                                 last_error=rescue.error, **history, **clear)
                else:
                    store.change(record, now,
                                 state=State.RETRYING if rescue.delay > 0 else State.QUEUED,
                                 run_at=now + max(0.0, rescue.delay),
                                 last_error=rescue.error, **history, **clear)
            MemoryWorkflowSteps(store, now).cascade(
                [r.lease.task_id for r, ok in zip(params.rescues, applied, strict=True)
                 if ok and r.kind is RescueKind.FAIL])
            if any(applied):
                store.wake()
        return applied

    def tasks_promote(self, params: PromoteParams) -> int:
        store = self.store
        with store.condition:
            store.move_due(store.clock.time())
            due = [store.tasks[task_id] for task_id in store.due_unpromoted
                   if store.tasks[task_id].state_value in _WAITING][:max(0, params.limit)]
            for record in due:
                store.promote(record)
            if due:
                store.wake()
            return len(due)

    def tasks_prune(self, params: PruneParams) -> int:
        store = self.store
        deleted = 0
        with store.condition:
            now = store.clock.time()
            for state, age in params.older_than.items():
                if state not in FINAL_STATES or deleted >= params.limit:
                    continue
                for record in store.finished_before(state.value, now - float(age),
                                                    params.limit - deleted):
                    store.remove(record)
                    deleted += 1
        return deleted

    # ------------------------------------------------------------------ inspection

    def tasks_get(self, task_id: str) -> StoredTask | CorruptTask | None:
        with self.store.condition:
            record = self.store.tasks.get(task_id)
            return None if record is None else stored(record)

    def tasks_list(self, params: ListParams) -> list[StoredTask | CorruptTask]:
        found: list[StoredTask | CorruptTask] = []
        task_filter = params.filter
        if params.limit <= 0:
            return found
        store = self.store
        with store.condition:
            now = store.clock.time()
            if task_filter.ids is not None:
                ids: Iterable[str] = sorted(
                    (str(i) for i in set(task_filter.ids) if str(i) in store.tasks
                     and (params.before_id is None or str(i) < params.before_id)),
                    reverse=True)
            else:
                ids = store.ids_descending(params.before_id)
            for task_id in ids:
                record = store.tasks[task_id]
                if matches(record, task_filter, now):
                    found.append(stored(record, params.with_payload))
                    if len(found) >= params.limit:
                        break
        return found

    def tasks_count(self, task_filter: TaskFilter) -> int:
        store = self.store
        with store.condition:
            if task_filter.ids is None and task_filter.finished_before is None:
                states = None if task_filter.states is None else {
                    str(s) for s in task_filter.states}
                return sum(count for (queue, name, state), count in store.counts.items()
                           if (states is None or state in states)
                           and (task_filter.queues is None or queue in task_filter.queues)
                           and (task_filter.names is None or name in task_filter.names))
            return len(self._selected(task_filter, store.clock.time()))

    def tasks_stats(self) -> dict[tuple[str, State], int]:
        with self.store.condition:
            rows = [(queue, state, count)
                    for (queue, _, state), count in self.store.counts.items()]
        return state_counts(rows)

    def tasks_count_by_name(self, params: CountByNameParams) -> dict[str, int]:
        states = {str(s) for s in params.states}
        counts: dict[str, int] = {}
        with self.store.condition:
            for (_, name, state), count in self.store.counts.items():
                if state in states:
                    counts[name] = counts.get(name, 0) + count
        return counts

    # ------------------------------------------------------------------ operators

    def tasks_retry(self, task_filter: TaskFilter) -> int:
        store = self.store
        changed: list[str] = []
        with store.condition:
            now = store.clock.time()
            for record in self._selected(task_filter, now):
                if record.state_value not in _RETRYABLE:
                    continue
                key = record.unique_key
                holder = None if key is None else store.key_holder(key)
                if holder is not None and holder != record.id:
                    continue  # another task holds its unique key now
                store.change(record, now, state=State.QUEUED, attempts=0, snoozes=0,
                             run_at=now, finished_at=None, started_at=None,
                             lease_token=None, lease_expires_at=None)
                changed.append(record.id)
            if changed:
                MemoryWorkflowSteps(store, now).restore(changed)
                store.wake()
        return len(changed)

    def tasks_edit(self, params: TaskEditParams) -> bool:
        check_text("the arguments", params.payload)
        check_text("the history", params.history)
        with self.store.condition:
            if not edit_record(self.store, params):
                return False
            # its cancelled dependents wait again
            MemoryWorkflowSteps(self.store, self.store.clock.time()).restore([params.task_id])
            return True

    def tasks_cancel(self, params: CancelParams) -> int:
        store = self.store
        cancelled: list[str] = []
        with store.condition:
            now = store.clock.time()
            for record in self._selected(params.filter, now):
                if record.state_value in _FINAL:
                    continue
                store.change(record, now, state=State.CANCELLED, finished_at=now,
                             last_error=params.reason, lease_token=None,
                             lease_expires_at=None)
                cancelled.append(record.id)
            if cancelled:
                MemoryWorkflowSteps(store, now).cascade(cancelled)
                store.wake()  # those waiting for a result see the cancel
        return len(cancelled)

    def dependencies_list(self, params: DependenciesListParams) -> dict[str, list[str]]:
        with self.store.condition:
            return {task_id: list(self.store.dependencies.get(task_id, ()))
                    for task_id in params.task_ids}

    def tasks_delete(self, task_filter: TaskFilter) -> int:
        store = self.store
        with store.condition:
            selected = self._selected(task_filter, store.clock.time())
            for record in selected:
                store.remove(record)
        return len(selected)
