"""Random sequences of operations against each backend, checked against a small model.

The model knows the state, attempts and lease of every task; after every step each task
in the store must agree with it. Time is kept out of the model by using only delays of
zero or an hour, and leases of an hour or a few milliseconds (the `expire` step waits for
the short ones to run out, then runs maintenance).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from taskbasket import Basket, State
from taskbasket.backends.base import (
    ClaimParams,
    Lease,
    LeaseExtendParams,
    Outcome,
    OutcomeKind,
    TaskFilter,
)
from tests.helpers import maintain

SHORT_LEASE = 0.05
OPEN = {State.QUEUED, State.SCHEDULED, State.RUNNING, State.RETRYING}


@dataclass
class ModelTask:
    id: str
    priority: int
    max_attempts: int
    unique_key: str | None
    state: State
    attempts: int = 0
    lease: Lease | None = None
    short_lease: bool = False
    stale_leases: list[Lease] = field(default_factory=list)

    @property
    def due(self) -> bool:
        return self.state in (State.QUEUED, State.SCHEDULED, State.RETRYING) and self.is_now

    is_now: bool = True


class QueueModel(RuleBasedStateMachine):
    basket: Basket  # set by the test below

    tasks = Bundle("tasks")

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, ModelTask] = {}
        self.basket.purge()

    # ------------------------------------------------------------------ producers

    @initialize()
    def register(self) -> None:
        if "job" not in self.basket.registry:
            self.basket.task(name="job")(lambda: None)

    @rule(target=tasks, priority=st.integers(-2, 2), later=st.booleans(),
          max_attempts=st.integers(1, 3), key=st.sampled_from([None, None, "k1", "k2"]))
    def enqueue(self, priority: int, later: bool, max_attempts: int, key: str | None) -> str:
        ref = self.basket.enqueue("job", priority=priority, delay=3600 if later else 0,
                                  max_attempts=max_attempts, unique_key=key)
        holder = next((t for t in self.model.values()
                       if key is not None and t.unique_key == key and t.state in OPEN), None)
        if holder is not None:
            assert not ref.created and ref.id == holder.id
            return holder.id
        assert ref.created
        state = State.SCHEDULED if later else State.QUEUED
        self.model[ref.id] = ModelTask(ref.id, priority, max_attempts, key, state,
                                       is_now=not later)
        return ref.id

    # ------------------------------------------------------------------ workers

    @rule(limit=st.integers(1, 3), short=st.booleans())
    def claim(self, limit: int, short: bool) -> None:
        claimed = self.basket.backend.tasks_claim(ClaimParams(
            worker_id="model", names=["job"], limit=limit,
            lease_seconds=SHORT_LEASE if short else 3600))
        due = [t for t in self.model.values() if t.due]
        assert len(claimed) == min(limit, len(due))
        stored = {t.id: self.basket.backend.tasks_get(t.id) for t in due}
        due.sort(key=lambda t: (-t.priority, stored[t.id].run_at, t.id))  # type: ignore[union-attr]
        expected = {t.id for t in due[:limit]}
        # tasks of equal priority and run_at may come in either order; the set must match
        # unless two candidates tie exactly at the boundary
        got = {c.id for c in claimed}
        if got != expected:
            boundary = due[limit - 1]
            key = (boundary.priority, stored[boundary.id].run_at)  # type: ignore[union-attr]
            tied = {t.id for t in due if (t.priority, stored[t.id].run_at) == key}  # type: ignore[union-attr]
            assert got - expected <= tied, (got, expected)
        for task in claimed:
            model = self.model[task.id]
            model.state = State.RUNNING
            model.attempts += 1
            assert task.attempts == model.attempts
            if model.lease is not None:
                model.stale_leases.append(model.lease)
            model.lease = task.lease
            model.short_lease = short

    @rule(task_id=tasks, kind=st.sampled_from(list(OutcomeKind)), stale=st.booleans(),
          later=st.booleans())
    def finish(self, task_id: str, kind: OutcomeKind, stale: bool, later: bool) -> None:
        model = self.model.get(task_id)
        if model is None:
            return
        lease = (model.stale_leases[-1] if stale and model.stale_leases
                 else model.lease or Lease(task_id, "never-issued"))
        current = model.state is State.RUNNING and lease == model.lease
        [accepted] = self.basket.backend.tasks_finish(
            [Outcome(lease, kind, error="e", retry_delay=3600 if later else 0)])
        assert accepted == current
        if not current:
            return
        model.lease = None
        if kind is OutcomeKind.SUCCEEDED:
            model.state = State.SUCCEEDED
        elif kind is OutcomeKind.FAILED:
            model.state = State.FAILED
        elif kind is OutcomeKind.RETRY:
            model.state, model.is_now = State.RETRYING, not later
        else:
            model.state, model.is_now = State.QUEUED, True
            model.attempts -= 1

    @rule(task_id=tasks)
    def heartbeat(self, task_id: str) -> None:
        model = self.model.get(task_id)
        if model is None or model.lease is None:
            return
        held = self.basket.backend.leases_extend(LeaseExtendParams([model.lease], 3600))
        assert held == ({task_id} if model.state is State.RUNNING else set())
        model.short_lease = False

    @rule()
    def expire(self) -> None:
        time.sleep(SHORT_LEASE * 2)
        result = maintain(self.basket.backend)
        expected_rescued, expected_failed = set(), set()
        for model in self.model.values():
            if model.state is State.RUNNING and model.short_lease:
                model.lease = None
                if model.attempts >= model.max_attempts:
                    model.state = State.FAILED
                    expected_failed.add(model.id)
                else:
                    model.state, model.is_now = State.QUEUED, True
                    expected_rescued.add(model.id)
        assert {lease.id for lease in result.requeued} == expected_rescued
        assert {lease.id for lease in result.failed} == expected_failed
        for model in self.model.values():  # promotion makes due tasks queued
            if model.state in (State.SCHEDULED, State.RETRYING) and model.is_now:
                model.state = State.QUEUED

    # ------------------------------------------------------------------ operators

    @rule(task_id=tasks)
    def cancel(self, task_id: str) -> None:
        count = self.basket.cancel(task_id)
        model = self.model.get(task_id)
        changed = model is not None and model.state in OPEN
        assert count == (1 if changed else 0)
        if model is not None and changed:
            model.state, model.lease = State.CANCELLED, None

    @rule(task_id=tasks)
    def retry(self, task_id: str) -> None:
        count = self.basket.retry(task_id)
        model = self.model.get(task_id)
        retryable = model is not None and model.state in (
            State.FAILED, State.CANCELLED, State.RETRYING, State.SCHEDULED)
        if retryable and model is not None and model.unique_key is not None:
            retryable = not any(
                t.id != model.id and t.unique_key == model.unique_key and t.state in OPEN
                for t in self.model.values())
        assert count == (1 if retryable else 0)
        if retryable and model is not None:
            model.state, model.attempts, model.is_now = State.QUEUED, 0, True

    @rule(task_id=tasks)
    def delete(self, task_id: str) -> None:
        assert self.basket.delete(task_id) == (1 if task_id in self.model else 0)
        self.model.pop(task_id, None)

    # ------------------------------------------------------------------ agreement

    @invariant()
    def store_agrees_with_model(self) -> None:
        for model in self.model.values():
            stored = self.basket.backend.tasks_get(model.id)
            assert stored is not None, model
            if model.state in (State.SCHEDULED, State.RETRYING) and stored.state is State.QUEUED:
                assert model.is_now  # promoted by maintenance: same meaning
            else:
                assert stored.state == model.state, (model, stored)
            assert stored.attempts == model.attempts, (model, stored)
        counts = {s: 0 for s in State}
        for model in self.model.values():
            counts[model.state] += 1
        assert self.basket.backend.tasks_count(TaskFilter()) == len(self.model)
        final = sum(counts[s] for s in (State.SUCCEEDED, State.FAILED, State.CANCELLED))
        assert self.basket.count([State.SUCCEEDED, State.FAILED, State.CANCELLED]) == final


@pytest.mark.slow
@pytest.mark.needs("task_records", "unique_keys", "priority", "lease_expiry")
def test_random_operations_agree_with_the_model(basket: Basket) -> None:
    QueueModel.basket = basket
    machine = QueueModel.TestCase
    machine.settings = settings(
        max_examples=int(__import__("os").environ.get("TB_MODEL_EXAMPLES", "15")),
        stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    machine().runTest()
