"""The data of one memory store: its task records and the indexes that keep every operation
cheap, all guarded by one lock.

Each pending task sits in one of two places: ``waiting`` (a heap by ``run_at``) until it is
due, then in the due heaps of its (queue, name), one by (priority desc, run_at, id) and one
by id (``ClaimOrder.CREATED``), so a claim pops what it takes instead of scanning every
task. Running tasks sit in a heap by lease end, final ones in a heap per state by finish
time, and ids in one sorted list (newest-first listings with a cursor). Heap entries carry
the record's ``version``: any change to a record bumps it and files the record again, so an
entry whose version is not the record's is stale and skipped (and dropped when the heaps
are rebuilt, once they hold more stale entries than live ones).
"""

from __future__ import annotations

import bisect
import heapq
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from taskbasket.backends.flow_params import StoredQueue
from taskbasket.backends.memory.clock import SYSTEM_CLOCK, AdvancingClock, Clock
from taskbasket.task import FINAL_STATES, PENDING_STATES, State

_PENDING_VALUES = frozenset(s.value for s in PENDING_STATES)
_FINAL_VALUES = frozenset(s.value for s in FINAL_STATES)
_COMPACT_SLACK = 1024
"""Heaps are rebuilt once their entries outnumber twice the records plus this."""

Key = tuple[str, str]
"""(queue, name): the due heaps of one kind of task."""


@dataclass(slots=True)
class Record:
    """One stored task; times are Unix seconds by the store's clock."""

    id: str
    name: str
    queue: str
    state: Any  # a State; anything else once a test corrupts it on purpose
    payload: str
    priority: Any
    attempts: Any
    max_attempts: Any
    timeout: Any
    unique_key: str | None
    created_at: Any
    run_at: Any
    last_error: str | None = None
    started_at: Any = None
    finished_at: Any = None
    lease_expires_at: Any = None
    lease_token: str | None = None
    worker_id: str | None = None
    version: int = 0
    result: str | None = None
    progress: str | None = None
    workflow_id: str | None = None
    waiting_on: int = 0
    """How many of its dependencies have not succeeded yet."""
    blocked_by: str | None = None
    """The dependency whose failure cancelled it, if one did."""
    limit_key: str | None = None
    snoozes: Any = 0
    history: str | None = None
    steps: str | None = None
    messages: str | None = None

    @property
    def state_value(self) -> str:
        return str(self.state)

    @property
    def pending(self) -> bool:
        return self.state_value in _PENDING_VALUES

    @property
    def final(self) -> bool:
        return self.state_value in _FINAL_VALUES


def _number(value: Any) -> float:
    """A field as a sort key: a corrupt one (not a number) sorts as 0."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 0.0


class MemoryStore:
    """The tasks, leaders and indexes of one store, and the condition its listeners wait on.

    Every read and change holds ``lock`` (the condition's lock); the methods here assume
    it is held. ``generation`` counts wake-ups: a listener waits for it to change.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else SYSTEM_CLOCK
        self.lock = threading.Lock()
        self.condition = threading.Condition(self.lock)
        self.generation = 0
        self.tasks: dict[str, Record] = {}
        self.unique: dict[str, str] = {}
        self.leaders: dict[str, tuple[str, float]] = {}
        self.schedules: dict[str, Any] = {}
        """Schedule name -> its StoredSchedule (``schedules.py``)."""
        self.dependencies: dict[str, list[str]] = {}
        """Task id -> the ids it depends on, in order (``workflows.py``)."""
        self.dependents: dict[str, list[str]] = {}
        """Task id -> the ids that depend on it, oldest first."""
        self.workers: dict[str, Any] = {}
        """Worker id -> its StoredWorker (``workers.py``)."""
        self.counts: Counter[tuple[str, str, str]] = Counter()
        """(queue, name, stored state) -> how many tasks."""
        self._ids: list[str] = []
        self._dead_ids = 0
        self.waiting: list[tuple[float, str, int]] = []
        self.due_priority: dict[Key, list[tuple[float, float, str, int]]] = {}
        self.due_created: dict[Key, list[tuple[str, int]]] = {}
        self.due_unpromoted: set[str] = set()
        """Due tasks still ``scheduled`` or ``retrying`` (``tasks_promote`` makes them queued)."""
        self.leases: list[tuple[float, str, int]] = []
        self.finished: dict[str, list[tuple[float, str, int]]] = {}
        self._entries = 0
        self.queue_settings: dict[str, StoredQueue] = {}
        """Queue name -> its paused flag and limits (``flow.py``)."""
        self.due_by_group: dict[tuple[str, str, str | None], list[tuple[Any, ...]]] = {}
        """(queue, name, limit_key) -> due entries in priority order, for limited claims
        (not counted in the entries that trigger a rebuild: the other heaps do that)."""
        self.starts: list[tuple[float, str]] = []
        """(expires, group text): the start records of rate limits (``flow.py``)."""
        if isinstance(self.clock, AdvancingClock):
            self.clock.on_advance(self.notify)

    # ------------------------------------------------------------------ wake-ups

    def notify(self) -> None:
        """Wake every listener (takes the lock: call it without holding it)."""
        with self.condition:
            self.wake()

    def wake(self) -> None:
        """Wake every listener; the lock is held."""
        self.generation += 1
        self.condition.notify_all()

    # ------------------------------------------------------------------ records

    def add(self, record: Record, now: float) -> None:
        """File a new record (its id is not taken)."""
        self.tasks[record.id] = record
        if not self._ids or record.id > self._ids[-1]:
            self._ids.append(record.id)
        else:
            index = bisect.bisect_left(self._ids, record.id)
            if index < len(self._ids) and self._ids[index] == record.id:
                self._dead_ids -= 1  # an id deleted before and kept in the list: live again
            else:
                self._ids.insert(index, record.id)
        if record.unique_key is not None and not record.final:
            self.unique[record.unique_key] = record.id
        self.counts[(record.queue, record.name, record.state_value)] += 1
        self._file(record, now)

    def remove(self, record: Record) -> None:
        """Delete a record and forget it in every index."""
        del self.tasks[record.id]
        record.version += 1
        self._dead_ids += 1
        self._release_key(record)
        self._count(record, -1)
        self.due_unpromoted.discard(record.id)
        for parent in self.dependencies.pop(record.id, ()):
            children = self.dependents.get(parent)
            if children is not None and record.id in children:
                children.remove(record.id)
        self.dependents.pop(record.id, None)  # (its release ran before, if it succeeded)
        self._compact()

    def change(self, record: Record, now: float, **fields: Any) -> None:
        """Set ``fields`` of a record (a new state among them, maybe) and file it again."""
        self._count(record, -1)
        was_final = record.final
        for name, value in fields.items():
            setattr(record, name, value)
        self._count(record, +1)
        if record.unique_key is not None:
            if record.final and not was_final:
                self._release_key(record)
            elif was_final and not record.final:
                self.unique[record.unique_key] = record.id
        record.version += 1
        self.due_unpromoted.discard(record.id)
        self._file(record, now)
        self._compact()

    def promote(self, record: Record) -> None:
        """A due scheduled or retrying task becomes queued (its heap entries stay valid)."""
        self._count(record, -1)
        record.state = State.QUEUED
        self._count(record, +1)
        self.due_unpromoted.discard(record.id)

    def key_holder(self, unique_key: str) -> str | None:
        """The id of the task that holds ``unique_key`` (not final), if any."""
        return self.unique.get(unique_key)

    def _release_key(self, record: Record) -> None:
        if record.unique_key is not None and self.unique.get(record.unique_key) == record.id:
            del self.unique[record.unique_key]

    def _count(self, record: Record, step: int) -> None:
        key = (record.queue, record.name, record.state_value)
        self.counts[key] += step
        if self.counts[key] <= 0:
            del self.counts[key]

    # ------------------------------------------------------------------ indexes

    def _push(self, heap: list[Any], entry: tuple[Any, ...]) -> None:
        heapq.heappush(heap, entry)
        self._entries += 1

    def _pop(self, heap: list[Any]) -> Any:
        self._entries -= 1
        return heapq.heappop(heap)

    def _file(self, record: Record, now: float) -> None:
        """Put the record's current version in the index of its state."""
        if record.pending:
            if _number(record.run_at) > now:
                self._push(self.waiting, (_number(record.run_at), record.id, record.version))
            else:
                self._file_due(record)
        elif record.state_value == State.RUNNING:
            self._push(self.leases, (_number(record.lease_expires_at), record.id,
                                     record.version))
        elif record.final:
            heap = self.finished.setdefault(record.state_value, [])
            self._push(heap, (_number(record.finished_at), record.id, record.version))

    def _file_due(self, record: Record) -> None:
        key = (record.queue, record.name)
        self._push(self.due_priority.setdefault(key, []),
                   (-_number(record.priority), _number(record.run_at), record.id,
                    record.version))
        self._push(self.due_created.setdefault(key, []), (record.id, record.version))
        heapq.heappush(self.due_by_group.setdefault((*key, record.limit_key), []),
                       (-_number(record.priority), _number(record.run_at), record.id,
                        record.version))
        if record.state_value != State.QUEUED:
            self.due_unpromoted.add(record.id)

    def current(self, task_id: str, version: int) -> Record | None:
        """The record an index entry names, if the entry is not stale."""
        record = self.tasks.get(task_id)
        return record if record is not None and record.version == version else None

    def move_due(self, now: float) -> None:
        """Move the pending tasks that became due from ``waiting`` to the due heaps."""
        while self.waiting and self.waiting[0][0] <= now:
            _, task_id, version = self._pop(self.waiting)
            record = self.current(task_id, version)
            if record is not None and record.pending:
                self._file_due(record)

    def due_keys(self, names: Any, queues: Any, by_created: bool) -> list[Key]:
        """The (queue, name) keys with due tasks that a claim of ``names`` in ``queues``
        may take (None: any)."""
        heaps: dict[Key, Any] = self.due_created if by_created else self.due_priority
        if names is not None and queues is not None:
            wanted = [(q, n) for q in queues for n in names]
            return [key for key in wanted if key in heaps]
        return [key for key in heaps
                if (names is None or key[1] in names) and (queues is None or key[0] in queues)]

    def pop_due(self, keys: list[Key], by_created: bool) -> Record | None:
        """Take the first due task among the heaps of ``keys`` in the claim's order."""
        heaps: dict[Key, list[Any]] = self.due_created if by_created else self.due_priority
        best: Key | None = None
        for key in keys:
            heap = heaps.get(key)
            while heap and self._stale_due(heap[0]):
                self._pop(heap)
            if not heap:
                heaps.pop(key, None)
            elif (best is None or heap[0] < heaps[best][0]):
                best = key
        if best is None:
            return None
        entry = self._pop(heaps[best])
        return self.tasks[entry[-2]]

    def pop_group(self, group: tuple[str, str, str | None], count: int) -> list[Any]:
        """Take up to ``count`` live entries off the due heap of ``group``, in order."""
        heap = self.due_by_group.get(group)
        taken: list[Any] = []
        while heap and len(taken) < count:
            entry = heapq.heappop(heap)
            if not self._stale_due(entry):
                taken.append(entry)
        if not heap:
            self.due_by_group.pop(group, None)
        return taken

    def push_group(self, group: tuple[str, str, str | None], entries: list[Any]) -> None:
        """Put back entries ``pop_group`` took that a claim did not use."""
        heap = self.due_by_group.setdefault(group, [])
        for entry in entries:
            heapq.heappush(heap, entry)

    def _stale_due(self, entry: tuple[Any, ...]) -> bool:
        record = self.current(entry[-2], entry[-1])
        return record is None or not record.pending

    def running_entries(self, before: float, limit: int) -> list[Record]:
        """Up to ``limit`` running tasks whose lease ended before ``before``, those that
        ended first first; the heap keeps them (finding changes nothing)."""
        found: list[tuple[float, str, int]] = []
        records: list[Record] = []
        while self.leases and len(records) < limit and self.leases[0][0] < before:
            entry = self._pop(self.leases)
            record = self.current(entry[1], entry[2])
            if record is not None and record.state_value == State.RUNNING:
                found.append(entry)
                records.append(record)
        for entry in found:
            self._push(self.leases, entry)
        return records

    def finished_before(self, state: str, before: float, limit: int) -> list[Record]:
        """Up to ``limit`` tasks in final ``state`` that finished before ``before``."""
        heap = self.finished.get(state, [])
        records: list[Record] = []
        while heap and len(records) < limit and heap[0][0] < before:
            entry = self._pop(heap)
            record = self.current(entry[1], entry[2])
            if record is not None and record.state_value == state:
                records.append(record)
        return records

    def ids_descending(self, before_id: str | None) -> Iterator[str]:
        """Every stored id, newest first, below ``before_id`` if given."""
        end = len(self._ids) if before_id is None else bisect.bisect_left(self._ids, before_id)
        for index in range(end - 1, -1, -1):
            task_id = self._ids[index]
            if task_id in self.tasks:
                yield task_id

    def _compact(self) -> None:
        """Rebuild the indexes once most of their entries are stale."""
        live = len(self.tasks)
        if self._dead_ids > live + _COMPACT_SLACK:
            self._ids = [task_id for task_id in self._ids if task_id in self.tasks]
            self._dead_ids = 0
        if self._entries <= 2 * live + _COMPACT_SLACK:
            return
        now = self.clock.time()
        self.waiting, self.leases = [], []
        self.due_priority, self.due_created, self.finished = {}, {}, {}
        self.due_by_group = {}
        self.due_unpromoted = set()
        self._entries = 0
        for record in self.tasks.values():
            self._file(record, now)

    def corrupt(self, task_id: str, **fields: Any) -> None:
        """Overwrite fields of a stored record with anything, unchecked and unfiled, as a
        stray program would: for tests of how taskbasket copes with a corrupt task."""
        with self.condition:
            record = self.tasks[task_id]
            self._count(record, -1)
            for name, value in fields.items():
                setattr(record, name, value)
            self._count(record, +1)

