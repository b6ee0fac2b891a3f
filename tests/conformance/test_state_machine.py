"""Random sequences of operations against each backend, checked against a small model.

The model knows the state, attempts, unique key and leases (the current one and every one
it replaced) of every task; after every step each task in the store must agree with it.
Time is kept out of the model: delays are zero or an hour, and leases an hour or one
millisecond. The ``expire`` step waits on the store's own clock (never a fixed sleep)
until every one-millisecond lease has run out, then runs maintenance. A heartbeat or an
outcome may meet such a lease after it ran out but before maintenance rescued it; it is
then still current (fencing is by token, expiry is maintenance's).

Each step draws one operation with fixed weights (``OPERATIONS``), so that claims,
outcomes and heartbeats are as frequent as the operators' actions however hypothesis
shapes an example. ``make test`` runs the ``test`` profile; ``make fuzz`` the ``fuzz``
profile (``TASKBASKET_HYPOTHESIS_PROFILE=fuzz``), with far more and longer sequences.
Either way the test then checks that every branch worth proving (stale outcomes, stale
heartbeats, rescues, lease-expiry failures, unique-key hits, ...) was taken, so the
model cannot silently turn inert again.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, rule

from taskbasket import Basket, State, TaskRef
from taskbasket.backends.base import (
    ClaimParams,
    Lease,
    LeaseExtendParams,
    ListParams,
    NewTask,
    Outcome,
    OutcomeKind,
    StoredTask,
    TaskFilter,
)
from taskbasket.codec import encode_arguments
from taskbasket.ids import new_task_id
from tests.helpers import maintain, wait_for

SHORT_LEASE = 0.001
LONG = 3600.0
OPEN = {State.QUEUED, State.SCHEDULED, State.RUNNING, State.RETRYING}
RETRYABLE = {State.FAILED, State.CANCELLED, State.RETRYING, State.SCHEDULED}
KEYS = st.sampled_from([None, "k1", "k2"])
LATER = st.sampled_from([False, False, False, True])  # most tasks due now, some in an hour
WHICH = st.sampled_from(["current", "current", "current", "stale", "stale", "forged"])
"""Which lease a finish or heartbeat sends (QueueModel.lease_of)."""
PICK = st.sampled_from(range(64))  # which task a step takes (QueueModel.target); uniform

settings.register_profile(
    "test", max_examples=30, stateful_step_count=50, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "fuzz", max_examples=1000, stateful_step_count=80, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PROFILE = os.environ.get("TASKBASKET_HYPOTHESIS_PROFILE", "test")

ARGUMENTS = {
    "enqueue": st.tuples(st.integers(-2, 2), LATER, st.integers(1, 3), KEYS),
    "insert_batch": st.tuples(st.integers(-2, 2), st.lists(KEYS, min_size=2, max_size=4)),
    "claim": st.tuples(st.integers(1, 3), st.booleans()),
    "finish": st.tuples(PICK, st.sampled_from(list(OutcomeKind)), WHICH, LATER),
    "heartbeat": st.tuples(PICK, WHICH, st.booleans()),
    "expire": st.tuples(),
    "cancel": st.tuples(PICK),
    "retry": st.tuples(PICK),
    "delete": st.tuples(),
    "count": st.tuples(),
}
WEIGHTS = {"enqueue": 2, "insert_batch": 1, "claim": 3, "finish": 4, "heartbeat": 2,
           "expire": 2, "cancel": 1, "retry": 2, "delete": 1, "count": 1}
OPERATIONS = st.one_of(*[st.tuples(st.just(name), ARGUMENTS[name])  # a new object each:
                          for name, weight in WEIGHTS.items() for _ in range(weight)])
"""One step: an operation's name, drawn with ``WEIGHTS`` (one_of drops repeats of one
strategy object, so each weight unit is a strategy of its own), and its arguments."""

# Branches a run must take at least this often on each store. The ``test`` profile is
# derandomized (the same run every time, until this file changes); these minimums are
# about half of what random runs of that size take, so an edit seldom needs new ones.
REQUIRED = {
    "enqueue: created": 50, "enqueue: unique key hit": 8, "batch: unique key hit": 8,
    "claim: took tasks": 40, "claim: short lease": 10,
    "finish: current": 15, "finish: released": 1, "finish: deferred": 1,
    "finish: stale lease refused": 10,
    "finish: stale lease refused while another holds it": 1,
    "finish: forged token refused": 20,
    "heartbeat: held": 5, "heartbeat: stale lease refused": 3,
    "heartbeat: forged token refused": 5,
    "expire: rescued": 5, "expire: failed (no attempts left)": 1,
    "cancel: changed": 15, "retry: changed": 10, "retry: unique key held": 1, "delete": 10,
}
SEEN: Counter[str] = Counter()


@dataclass
class ModelTask:
    id: str
    priority: int
    max_attempts: int
    unique_key: str | None
    state: State
    is_now: bool
    attempts: int = 0
    snoozes: int = 0
    lease: Lease | None = None
    short_lease: bool = False
    stale_leases: list[Lease] = field(default_factory=list)

    @property
    def due(self) -> bool:
        return self.state in (State.QUEUED, State.SCHEDULED, State.RETRYING) and self.is_now

    def drop_lease(self) -> None:
        """The current lease ends (an outcome, a rescue, a cancel): it becomes stale."""
        if self.lease is not None:
            self.stale_leases.append(self.lease)
        self.lease, self.short_lease = None, False


def refused(lease: Lease, model: ModelTask | None) -> str:
    """Which kind of refusal a step saw, for the counts."""
    if lease.token == "never-issued":
        return "forged token refused"
    if model is not None and model.lease is not None:
        return "stale lease refused while another holds it"
    return "stale lease refused"


class QueueModel(RuleBasedStateMachine):
    basket: Basket  # set by the test below

    tasks = Bundle("tasks")

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, ModelTask] = {}
        self.deleted: dict[str, list[Lease]] = {}  # the leases of deleted tasks
        self.basket.purge()

    # ------------------------------------------------------------------ steps

    @initialize(target=tasks, count=st.integers(1, 4), max_attempts=st.integers(1, 2))
    def start(self, count: int, max_attempts: int) -> object:
        """Every example starts with tasks due now, so no sequence runs on an empty store."""
        if "job" not in self.basket.registry:
            self.basket.task(name="job")(lambda: None)
        refs = self.basket.enqueue_many("job", [() for _ in range(count)],
                                        max_attempts=max_attempts)
        for ref in refs:
            self.add(ref.id, 0, False, max_attempts, None)
        return multiple(*(ref.id for ref in refs))

    @rule(target=tasks, task_id=tasks, operation=OPERATIONS)
    def step(self, task_id: str, operation: tuple[Any, ...]) -> object:
        """Run one operation on ``task_id`` (any task ever made) or on a task it picks;
        an operation that makes tasks returns them to the bundle."""
        name, arguments = operation
        made = getattr(self, name)(task_id, *arguments)
        return multiple(*made) if made else multiple()

    # ------------------------------------------------------------------ helpers

    @property
    def backend(self):  # type: ignore[no-untyped-def]
        return self.basket.backend

    def stored(self) -> dict[str, StoredTask]:
        rows = self.backend.tasks_list(ListParams(limit=1000, with_payload=False))
        return {row.id: row for row in rows}

    def holder(self, key: str | None) -> ModelTask | None:
        """The task that is not final and holds ``key``, if any."""
        return next((t for t in self.model.values()
                     if key is not None and t.unique_key == key and t.state in OPEN), None)

    def add(self, task_id: str, priority: int, later: bool, max_attempts: int,
            key: str | None) -> None:
        state = State.SCHEDULED if later else State.QUEUED
        self.model[task_id] = ModelTask(task_id, priority, max_attempts, key, state,
                                        is_now=not later)

    def target(self, task_id: str, pick: int, states: set[State],
               prefer: Callable[[ModelTask], bool] | None = None) -> str:
        """Mostly one of the tasks in ``states`` (few in the bundle are where a step
        matters), half of those times one that ``prefer`` picks out if any; else
        ``task_id``."""
        fit = [t.id for t in self.model.values() if t.state in states]  # in creation order
        if prefer is not None and pick % 2:
            fit = [i for i in fit if prefer(self.model[i])] or fit
        return fit[pick % len(fit)] if fit and pick % 8 else task_id

    def leased(self, task_id: str, pick: int, which: str) -> str:
        """For an outcome or a heartbeat with lease ``which``: mostly a task where it
        matters (a current or forged lease: a task that holds one now; a stale one: a
        task claimed again since, else any that lost a lease, deleted ones included),
        else ``task_id``."""
        holding = [t.id for t in self.model.values() if t.lease is not None]
        fit = holding
        if which == "stale":
            lost = [t for t in self.model.values() if t.stale_leases]
            fit = ([t.id for t in lost if t.lease is not None] or [t.id for t in lost]
                   or [i for i, leases in self.deleted.items() if leases])
        return fit[pick % len(fit)] if fit and pick % 8 else task_id

    def lease_of(self, task_id: str, which: str) -> Lease:
        """The task's current lease, its latest stale one, or a token never issued."""
        model = self.model.get(task_id)
        if which == "current" and model is not None and model.lease is not None:
            return model.lease
        stale = model.stale_leases if model is not None else self.deleted.get(task_id, [])
        if which != "forged" and stale:
            return stale[-1]
        return Lease(task_id, "never-issued")

    def inserted(self, ref: TaskRef, new_id: str, priority: int, later: bool,
                 max_attempts: int, key: str | None, how: str) -> str:
        holder = self.holder(key)
        if holder is not None:
            assert not ref.created and ref.id == holder.id, (ref, holder)
            SEEN[f"{how}: unique key hit"] += 1
            return holder.id
        assert ref.created and ref.id == new_id, (ref, new_id)
        SEEN[f"{how}: created"] += 1
        self.add(ref.id, priority, later, max_attempts, key)
        return ref.id

    # ------------------------------------------------------------------ producers

    def enqueue(self, _: str, priority: int, later: bool, max_attempts: int,
                key: str | None) -> list[str]:
        ref = self.basket.enqueue("job", priority=priority, delay=LONG if later else 0,
                                  max_attempts=max_attempts, unique_key=key)
        return [self.inserted(ref, ref.id, priority, later, max_attempts, key, "enqueue")]

    def insert_batch(self, _: str, priority: int, keys: list[str | None]) -> list[str]:
        """One atomic insert at the seam of tasks with their own, maybe equal, keys: a
        task whose key an earlier one of the batch took gets that one's id."""
        payload = encode_arguments("job", (), {})
        new = [NewTask(id=new_task_id(), name="job", queue="default", payload=payload,
                       priority=priority, max_attempts=2, unique_key=key) for key in keys]
        refs = self.backend.tasks_insert(new)
        assert len(refs) == len(new), refs
        return [self.inserted(ref, task.id, priority, False, 2, task.unique_key, "batch")
                for task, ref in zip(new, refs, strict=True)]

    # ------------------------------------------------------------------ workers

    def claim(self, _: str, limit: int, short: bool) -> None:
        claimed = self.backend.tasks_claim(ClaimParams(
            worker_id="model", names=["job"], limit=limit,
            lease_seconds=SHORT_LEASE if short else LONG))
        due = [t for t in self.model.values() if t.due]
        assert len(claimed) == min(limit, len(due)), (claimed, due)
        if len(due) > limit:  # which ones: priority first, then run_at
            stored = self.stored()

            def order(task: ModelTask) -> tuple[int, datetime]:
                return -task.priority, stored[task.id].run_at

            due.sort(key=lambda t: (*order(t), t.id))
            expected = {t.id for t in due[:limit]}
            got = {c.id for c in claimed}
            if got != expected:  # tasks that tie exactly at the boundary may come either way
                tied = {t.id for t in due if order(t) == order(due[limit - 1])}
                assert got - expected <= tied, (got, expected)
        for task in claimed:
            model = self.model[task.id]
            model.state = State.RUNNING
            model.attempts += 1
            assert task.attempts == model.attempts, (task, model)
            assert task.lease not in model.stale_leases  # a fresh token every claim
            model.lease, model.short_lease = task.lease, short
        if claimed:
            SEEN["claim: took tasks"] += 1
            SEEN["claim: short lease"] += short

    def finish(self, task_id: str, pick: int, kind: OutcomeKind, which: str,
               later: bool) -> None:
        task_id = self.leased(task_id, pick, which)
        lease = self.lease_of(task_id, which)
        model = self.model.get(task_id)
        current = model is not None and model.state is State.RUNNING and lease == model.lease
        [accepted] = self.backend.tasks_finish(
            [Outcome(lease, kind, error="e", retry_delay=LONG if later else 0,
                     snoozes_added=int(kind is OutcomeKind.DEFERRED))])
        assert accepted == current, (kind, lease, model)
        if not current or model is None:
            SEEN[f"finish: {refused(lease, model)}"] += 1
            return
        SEEN["finish: current"] += 1
        model.drop_lease()
        if kind is OutcomeKind.SUCCEEDED:
            model.state = State.SUCCEEDED
        elif kind is OutcomeKind.FAILED:
            model.state = State.FAILED
        elif kind is OutcomeKind.RETRY:
            model.state, model.is_now = State.RETRYING, not later
        elif kind is OutcomeKind.DEFERRED:  # a snooze: uncounted, waits, counts a snooze
            SEEN["finish: deferred"] += 1
            model.state, model.is_now = State.SCHEDULED, not later
            model.attempts -= 1
            model.snoozes += 1
        else:
            SEEN["finish: released"] += 1
            model.state, model.is_now = State.QUEUED, True
            model.attempts -= 1

    def heartbeat(self, task_id: str, pick: int, which: str, short: bool) -> None:
        task_id = self.leased(task_id, pick, which)
        lease = self.lease_of(task_id, which)
        model = self.model.get(task_id)
        current = model is not None and model.state is State.RUNNING and lease == model.lease
        held = self.backend.leases_extend(
            LeaseExtendParams([lease], SHORT_LEASE if short else LONG))
        assert held == ({task_id} if current else set()), (lease, model)
        if current and model is not None:
            SEEN["heartbeat: held"] += 1
            model.short_lease = short
        else:
            SEEN[f"heartbeat: {refused(lease, model)}"] += 1

    def expire(self, _: str) -> None:
        """Wait until the store's clock passes every short lease; then maintenance
        rescues exactly those tasks (or fails the ones on their last attempt)."""
        short = [model for model in self.model.values() if model.short_lease]
        if short:
            stored = self.stored()
            ends = [stored[model.id].lease_expires_at for model in short]
            assert None not in ends, (short, stored)
            latest = max(end for end in ends if end is not None)
            wait_for(lambda: self.backend.now() > latest, 10,
                     "the store's clock to pass the short leases", interval=0.001)
        result = maintain(self.backend)
        expected_rescued, expected_failed = set(), set()
        for model in short:
            assert model.state is State.RUNNING, model
            model.drop_lease()
            if model.attempts >= model.max_attempts:
                model.state = State.FAILED
                expected_failed.add(model.id)
            else:
                model.state, model.is_now = State.QUEUED, True
                expected_rescued.add(model.id)
        assert {lease.id for lease in result.requeued} == expected_rescued, result
        assert {lease.id for lease in result.failed} == expected_failed, result
        SEEN["expire: rescued"] += len(expected_rescued)
        SEEN["expire: failed (no attempts left)"] += len(expected_failed)
        for model in self.model.values():  # promotion makes due tasks queued
            if model.state in (State.SCHEDULED, State.RETRYING) and model.is_now:
                model.state = State.QUEUED

    # ------------------------------------------------------------------ operators

    def cancel(self, task_id: str, pick: int) -> None:
        task_id = self.target(task_id, pick, OPEN, prefer=lambda t: t.state is State.RUNNING)
        count = self.basket.cancel(task_id)
        model = self.model.get(task_id)
        changed = model is not None and model.state in OPEN
        assert count == (1 if changed else 0), model
        if model is not None and changed:
            SEEN["cancel: changed"] += 1
            model.state = State.CANCELLED
            model.drop_lease()

    def retry(self, task_id: str, pick: int) -> None:
        task_id = self.target(task_id, pick, RETRYABLE, prefer=self.key_taken)
        count = self.basket.retry(task_id)
        model = self.model.get(task_id)
        retryable = model is not None and model.state in RETRYABLE
        if retryable and model is not None and self.key_taken(model):
            SEEN["retry: unique key held"] += 1
            retryable = False
        assert count == (1 if retryable else 0), model
        if retryable and model is not None:
            SEEN["retry: changed"] += 1
            model.state, model.attempts, model.is_now = State.QUEUED, 0, True
            model.snoozes = 0

    def key_taken(self, model: ModelTask) -> bool:
        """Whether another task that is not final holds this task's unique key."""
        holder = self.holder(model.unique_key)
        return holder is not None and holder.id != model.id

    def delete(self, task_id: str) -> None:
        assert self.basket.delete(task_id) == (1 if task_id in self.model else 0)
        model = self.model.pop(task_id, None)
        if model is not None:
            SEEN["delete"] += 1
            model.drop_lease()
            self.deleted[task_id] = model.stale_leases

    def count(self, _: str) -> None:
        """The counts an inspector shows agree with the model too."""
        final = sum(1 for m in self.model.values() if m.state not in OPEN)
        running = sum(1 for m in self.model.values() if m.state is State.RUNNING)
        assert self.backend.tasks_count(TaskFilter()) == len(self.model)
        assert self.basket.count([State.SUCCEEDED, State.FAILED, State.CANCELLED]) == final
        assert self.basket.count(State.RUNNING) == running

    # ------------------------------------------------------------------ agreement

    @invariant()
    def store_agrees_with_model(self) -> None:
        stored = self.stored()
        assert set(stored) == set(self.model), set(stored) ^ set(self.model)
        for model in self.model.values():
            row = stored[model.id]
            if model.state in (State.SCHEDULED, State.RETRYING) and row.state is State.QUEUED:
                assert model.is_now, (model, row)  # promoted by maintenance: same meaning
            else:
                assert row.state == model.state, (model, row)
            assert row.attempts == model.attempts, (model, row)
            assert row.snoozes == model.snoozes, (model, row)
            assert row.unique_key == model.unique_key, (model, row)
            assert (row.lease_expires_at is not None) == (model.lease is not None), (model, row)
        keys = [m.unique_key for m in self.model.values() if m.unique_key and m.state in OPEN]
        assert len(keys) == len(set(keys)), keys  # one open task per key
        SEEN["steps"] += 1


@pytest.mark.slow
@pytest.mark.needs("task_records", "unique_keys", "priority", "lease_expiry")
def test_random_operations_agree_with_the_model(basket: Basket) -> None:
    SEEN.clear()
    QueueModel.basket = basket
    QueueModel.TestCase.settings = settings.get_profile(PROFILE)
    QueueModel.TestCase().runTest()
    print(f"{PROFILE} profile, branches taken: {dict(sorted(SEEN.items()))}")
    missed = {name: (SEEN[name], least) for name, least in REQUIRED.items()
              if SEEN[name] < least}
    assert not missed, f"branches taken too rarely (seen, needed): {missed}; all: {SEEN}"
