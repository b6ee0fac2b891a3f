"""Snooze, edit and retry, and attempt history (#22) on every store.

A snooze ends an attempt without counting it (``OutcomeKind.DEFERRED``): the task waits
``scheduled``, ``attempts`` unchanged, ``snoozes`` counted, and past ``max_snoozes`` it
fails naming the cap. ``basket.retry(id, args=, kwargs=, queue=, priority=)`` edits a
failed or cancelled task and queues it again in one atomic step, or changes nothing.
Each task keeps its last 20 attempts and its edits in ``Task.history``. Buses can do none
of it and say so."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from taskbasket import (
    AttemptEntry,
    Basket,
    ConfigurationError,
    ConstantBackoff,
    EditEntry,
    Fail,
    Snooze,
    State,
    TaskStateError,
    UnsupportedOperationError,
)
from taskbasket.backends.base import Outcome, OutcomeKind, TaskEditParams
from taskbasket.history import MAX_ATTEMPT_ENTRIES
from tests.conformance.test_enqueue import claim
from tests.helpers import wait_for


def _work_until(basket: Basket, done: Callable[[], bool]) -> None:
    """Run a worker until ``done()`` (zero backoffs outpace ``run_until_empty``'s check)."""
    worker = basket.worker(visibility_timeout=10)
    worker.start()
    try:
        wait_for(done, 60, "the tasks to finish")
    finally:
        worker.stop()


def _state(basket: Basket, task_id: str) -> State | None:
    task = basket.get(task_id)
    return None if task is None else task.state


def _attempts(basket: Basket, task_id: str) -> list[AttemptEntry]:
    task = basket.get(task_id)
    assert task is not None
    return [e for e in task.history if isinstance(e, AttemptEntry)]


@pytest.mark.needs("snooze", "history")
def test_a_snooze_costs_no_attempt_and_is_counted(basket: Basket) -> None:
    calls: list[int] = []

    @basket.task(max_attempts=1)  # a counted snooze would have failed the task
    def poll() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Snooze(delay=0)
        return "ready"

    ref = poll.enqueue()
    _work_until(basket, lambda: _state(basket, ref.id) == State.SUCCEEDED)
    task = basket.get(ref.id)
    assert task is not None
    assert task.attempts == 1 and task.snoozes == 2 and task.result == "ready"
    entries = _attempts(basket, ref.id)
    assert [e.outcome for e in entries] == ["snoozed", "snoozed", "succeeded"]
    assert {e.attempt for e in entries} == {1}
    assert all(e.worker_id and e.started_at <= e.ended_at for e in entries)


@pytest.mark.needs("snooze")
def test_a_snooze_waits_scheduled_until_its_time(basket: Basket) -> None:
    at = datetime.now(UTC) + timedelta(hours=2)

    @basket.task
    def later(until: str) -> None:
        raise Snooze(at=at) if until == "at" else Snooze(delay=3600)

    by_delay, by_time = later.enqueue("delay"), later.enqueue("at")
    basket.worker(concurrency=2, visibility_timeout=10).run_until_empty(timeout=30)
    for ref, due in ((by_delay, datetime.now(UTC) + timedelta(seconds=3600)), (by_time, at)):
        task = basket.get(ref.id)
        assert task is not None and task.state == State.SCHEDULED, task
        assert task.attempts == 0 and task.snoozes == 1 and task.last_error is None
        assert abs((task.run_at - due).total_seconds()) < 60
    assert claim(basket) == []  # nothing is due before its time


@pytest.mark.needs("snooze", "history")
def test_snoozing_past_max_snoozes_fails_naming_the_cap(basket: Basket) -> None:
    @basket.task(max_snoozes=2)
    def restless() -> None:
        raise Snooze(delay=0)

    ref = restless.enqueue()
    _work_until(basket, lambda: _state(basket, ref.id) == State.FAILED)
    task = basket.get(ref.id)
    assert task is not None
    assert "max_snoozes of 2" in (task.last_error or "")
    assert task.snoozes == 2 and task.attempts == 1
    assert [e.outcome for e in _attempts(basket, ref.id)] == ["snoozed", "snoozed", "failed"]
    assert basket.retry(ref.id) == 1  # a retry starts the count again
    assert basket.get(ref.id).snoozes == 0  # type: ignore[union-attr]


@pytest.mark.lacks("snooze")
def test_a_bus_cannot_snooze_and_says_so(basket: Basket) -> None:
    @basket.task(max_attempts=1)
    def poll() -> None:
        raise Snooze(delay=0)

    poll.enqueue()
    _work_until(basket, lambda: len(basket.list(State.FAILED)) == 1)
    [failed] = basket.list(State.FAILED)
    assert "cannot snooze" in (failed.last_error or "")
    assert type(basket.backend).__name__ in (failed.last_error or "")


@pytest.mark.needs("history")
def test_history_keeps_the_last_20_attempts(basket: Basket) -> None:
    @basket.task(max_attempts=MAX_ATTEMPT_ENTRIES + 5, backoff=ConstantBackoff(0))
    def flaky() -> None:
        raise ValueError("boom")

    ref = flaky.enqueue()
    _work_until(basket, lambda: _state(basket, ref.id) == State.FAILED)
    entries = _attempts(basket, ref.id)
    assert len(entries) == MAX_ATTEMPT_ENTRIES
    assert [e.attempt for e in entries] == list(range(6, MAX_ATTEMPT_ENTRIES + 6))
    assert [e.outcome for e in entries] == ["retry"] * (MAX_ATTEMPT_ENTRIES - 1) + ["failed"]
    assert all(e.error == "ValueError: boom" for e in entries)


def _failed(basket: Basket, **options: object) -> str:
    @basket.task(name="send", **options)  # type: ignore[call-overload]
    def send(to: str, copies: int = 1) -> str:
        if to == "broken@example.com":
            raise Fail("no such mailbox")
        return f"sent {copies} to {to}"

    ref = send.enqueue("broken@example.com", copies=2)
    basket.worker(visibility_timeout=10).run_until_empty(timeout=30)
    assert basket.get(ref.id).state == State.FAILED  # type: ignore[union-attr]
    return ref.id


@pytest.mark.needs("edit_retry", "history")
def test_edit_and_retry_changes_the_fields_and_requeues(basket: Basket) -> None:
    task_id = _failed(basket)
    assert basket.retry(task_id, args=[], kwargs={"to": "fixed@example.com", "copies": 3},
                        queue="slow", priority=5) == 1
    task = basket.get(task_id)
    assert task is not None and task.state == State.QUEUED
    assert (task.args, task.kwargs) == ([], {"to": "fixed@example.com", "copies": 3})
    assert (task.queue, task.priority, task.attempts) == ("slow", 5, 0)
    assert basket.count(State.QUEUED, queue="slow") == 1 and basket.count(queue="default") == 0
    [edit] = [e for e in task.history if isinstance(e, EditEntry)]
    assert edit.previous == {"args": ["broken@example.com"], "kwargs": {"copies": 2},
                             "queue": "default", "priority": 0}
    basket.worker(queues=["slow"], visibility_timeout=10).run_until_empty(timeout=30)
    done = basket.get(task_id)
    assert done is not None and done.state == State.SUCCEEDED
    assert done.result == "sent 3 to fixed@example.com"
    assert [e.outcome for e in _attempts(basket, task_id)] == ["failed", "succeeded"]


@pytest.mark.needs("edit_retry")
def test_edit_and_retry_of_a_cancelled_task_and_a_plain_retry(basket: Basket) -> None:
    @basket.task
    def job(n: int) -> None: ...

    ref = job.enqueue(1)
    assert basket.cancel(ref.id) == 1
    assert basket.retry(ref.id, priority=-3) == 1
    task = basket.get(ref.id)
    assert task is not None and task.state == State.QUEUED and task.priority == -3
    assert task.args == [1]
    assert basket.cancel(ref.id) == 1 and basket.retry(ref.id) == 1  # as before


@pytest.mark.needs("edit_retry")
def test_edit_and_retry_is_refused_and_changes_nothing(basket: Basket) -> None:
    @basket.task
    def job(n: int) -> None: ...

    queued = job.enqueue(1)
    before = basket.get(queued.id)
    with pytest.raises(TaskStateError, match="is queued: only a failed or cancelled"):
        basket.retry(queued.id, kwargs={"n": 2})
    assert basket.get(queued.id) == before
    basket.cancel(queued.id)
    before = basket.get(queued.id)
    with pytest.raises(ConfigurationError, match="args must be a list"):
        basket.retry(queued.id, args="[2]")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="kwargs must be a dict"):
        basket.retry(queued.id, kwargs=[("n", 2)])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="priority"):
        basket.retry(queued.id, priority=10**9)
    with pytest.raises(TypeError):  # does not fit the handler
        basket.retry(queued.id, kwargs={"m": 2})
    with pytest.raises(TaskStateError, match="no task"):
        basket.retry("0190a2b4-0000-7000-8000-000000000000", priority=1)
    stale = TaskEditParams(queued.id, expected_history='["someone else\'s"]', history="[]",
                           priority=7)
    assert basket.backend.tasks_edit(stale) is False  # changed meanwhile: nothing done
    assert basket.get(queued.id) == before


@pytest.mark.needs("edit_retry", "unique_keys")
def test_edit_and_retry_leaves_a_unique_key_held_by_another(basket: Basket) -> None:
    @basket.task
    def job(n: int) -> None: ...

    first = job.options(unique_key="k").enqueue(1)
    [claimed] = claim(basket)
    basket.backend.tasks_finish([Outcome(claimed.lease, OutcomeKind.FAILED, error="x")])
    second = job.options(unique_key="k").enqueue(2)
    assert second.created
    before = basket.get(first.id)
    with pytest.raises(TaskStateError, match="unique key"):
        basket.retry(first.id, args=[3])
    assert basket.get(first.id) == before


@pytest.mark.lacks("edit_retry")
def test_a_bus_cannot_edit_and_retry(basket: Basket) -> None:
    with pytest.raises(UnsupportedOperationError, match=type(basket.backend).__name__):
        basket.retry("0190a2b4-0000-7000-8000-000000000000", kwargs={"n": 1})
