"""Durable sleeps and messages (#23): ``ctx.sleep`` ends the attempt without costing
one and resumes with the completed steps cached; ``basket.send`` keeps a message until
``ctx.receive`` takes it, and wakes a task waiting for it; a receive times out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from taskbasket import Basket, ConstantBackoff, ReceiveTimeout, State, TaskStateError
from taskbasket.backends.step_params import MessagesSendParams, MessagesSwap, StepsListParams
from taskbasket.testing import drain
from tests.conformance.test_steps import ctx
from tests.conformance.test_steps import final as state_of
from tests.helpers import wait_for


def run_worker_until(basket: Basket, task_id: str, state: State, what: str) -> None:
    """Run a worker until the task is in ``state``."""
    worker = basket.worker(concurrency=1, poll_interval=0.05)
    worker.start()
    try:
        wait_for(lambda: state_of(basket, task_id).state is state, 20, what)
    finally:
        worker.stop()


@pytest.mark.needs("steps")
def test_sleep_frees_the_slot_costs_no_attempt_and_resumes_with_steps_cached(
        basket: Basket) -> None:
    runs: list[str] = []

    @basket.task(max_attempts=1)
    def remind(user: str) -> str:
        first = ctx().step("email", lambda: runs.append("email") or f"sent {user}")
        ctx().sleep(0.4)
        second = ctx().step("followup", lambda: runs.append("followup") or "again")
        return f"{first}, {second}"

    ref = remind.enqueue("ann")
    drain(basket)
    task = state_of(basket, ref.id)
    assert task.state is State.SCHEDULED and task.attempts == 0 and task.snoozes == 0
    assert runs == ["email"]
    run_worker_until(basket, ref.id, State.SUCCEEDED, "the sleeper to resume")
    task = state_of(basket, ref.id)
    assert task.result == "sent ann, again" and task.attempts == 1  # max_attempts=1 held
    assert runs == ["email", "followup"]
    assert [entry.outcome for entry in task.history] == ["deferred", "succeeded"]


@pytest.mark.needs("steps")
def test_a_message_sent_before_the_task_asks_is_kept(basket: Basket) -> None:
    @basket.task
    def approve() -> Any:
        return ctx().receive("decision", timeout=60)

    ref = approve.enqueue()
    basket.send(ref, "decision", {"ok": True})
    drain(basket)
    task = state_of(basket, ref.id)
    assert task.state is State.SUCCEEDED and task.result == {"ok": True}


@pytest.mark.needs("steps")
def test_a_send_wakes_a_task_waiting_for_it(basket: Basket) -> None:
    runs: list[str] = []

    @basket.task(max_attempts=1)
    def approve() -> Any:
        ctx().step("ask", lambda: runs.append("ask"))
        first = ctx().receive("decision", timeout=3600)
        second = ctx().receive("decision", timeout=3600)
        return [first, second]

    ref = approve.enqueue()
    drain(basket)
    task = state_of(basket, ref.id)
    assert task.state is State.SCHEDULED and task.attempts == 0
    assert task.run_at.timestamp() > basket.backend.now().timestamp() + 3000
    basket.send(ref.id, "decision", "yes")  # wakes it: due now
    drain(basket)  # takes the first, waits for the second
    assert state_of(basket, ref.id).state is State.SCHEDULED
    basket.send(ref.id, "decision", "and yes")
    drain(basket)
    task = state_of(basket, ref.id)
    assert task.state is State.SUCCEEDED, task.last_error
    assert task.result == ["yes", "and yes"] and runs == ["ask"] and task.attempts == 1
    row = basket.backend.steps_list(StepsListParams(ref.id))
    assert row is not None and row.messages is None  # both taken, nothing waits
    with pytest.raises(TaskStateError, match="succeeded"):
        basket.send(ref.id, "decision", "late")


@pytest.mark.needs("steps")
def test_a_send_to_a_running_receiver_is_not_lost(basket: Basket) -> None:
    """The send lands after the receive wrote its wait and before the attempt's end is
    recorded (it cannot wake a running task): the worker wakes the task once the wait is
    recorded."""
    backend = basket.backend
    original = backend.steps_record
    sent: list[str] = []

    def record_then_send(params: Any) -> bool:
        done = original(params)
        if not sent:
            sent.append(params.lease.task_id)
            basket.send(params.lease.task_id, "go", 1)
        return done

    @basket.task(max_attempts=1)
    def approve() -> Any:
        return ctx().receive("go", timeout=3600)

    ref = approve.enqueue()
    backend.steps_record = record_then_send  # type: ignore[method-assign]
    try:
        drain(basket)
    finally:
        del backend.steps_record
    task = state_of(basket, ref.id)
    assert sent == [ref.id]
    assert task.state is State.SUCCEEDED and task.result == 1, task.last_error
    assert [entry.outcome for entry in task.history] == ["deferred", "succeeded"]


@pytest.mark.needs("steps")
def test_a_receive_times_out_raising_or_with_a_default(basket: Basket) -> None:
    @basket.task(max_attempts=1)
    def strict() -> Any:
        return ctx().receive("reply", timeout=0)

    @basket.task(max_attempts=1)
    def lenient() -> Any:
        return ctx().receive("reply", timeout=0.3, default="none came")

    one, two = strict.enqueue(), lenient.enqueue()
    drain(basket)
    task = state_of(basket, one.id)
    assert task.state is State.FAILED and "ReceiveTimeout" in (task.last_error or "")
    assert state_of(basket, two.id).state is State.SCHEDULED
    run_worker_until(basket, two.id, State.SUCCEEDED, "the receive to time out")
    assert state_of(basket, two.id).result == "none came"
    assert issubclass(ReceiveTimeout, TimeoutError)


@pytest.mark.needs("steps")
def test_async_handlers_sleep_and_receive_off_the_loop(basket: Basket) -> None:
    @basket.task(max_attempts=1)
    async def waiter() -> Any:
        await ctx().sleep_async(0)
        return await ctx().receive_async("go", timeout=3600)

    ref = waiter.enqueue()
    drain(basket)
    assert state_of(basket, ref.id).state is State.SCHEDULED
    basket.send(ref.id, "go", [1, 2])
    drain(basket)
    task = state_of(basket, ref.id)
    assert task.state is State.SUCCEEDED and task.result == [1, 2], task.last_error


@pytest.mark.needs("steps")
def test_a_sleep_woken_early_sleeps_again_until_its_recorded_time(basket: Basket) -> None:
    runs: list[str] = []

    @basket.task(max_attempts=1)
    def nap() -> str:
        ctx().step("before", lambda: runs.append("before"))
        ctx().sleep_until(datetime.now(UTC) + timedelta(hours=1))
        return "woke"

    ref = nap.enqueue()
    drain(basket)
    first = state_of(basket, ref.id)
    assert first.state is State.SCHEDULED
    row = basket.backend.steps_list(StepsListParams(ref.id))
    assert row is not None
    basket.backend.messages_send(MessagesSendParams(  # made due now, as by hand
        ref.id, MessagesSwap(row.messages, row.messages), wake=True))
    drain(basket)
    again = state_of(basket, ref.id)
    assert again.state is State.SCHEDULED and runs == ["before"]
    assert abs((again.run_at - first.run_at).total_seconds()) < 0.01  # the recorded time
    assert [name for name, _ in basket.steps(ref.id)] == ["before", "sleep"]


@pytest.mark.needs("steps")
def test_a_send_wakes_only_a_task_waiting_for_that_name(basket: Basket) -> None:
    @basket.task(max_attempts=1)
    def approve() -> Any:
        return ctx().receive("decision", timeout=3600)

    @basket.task(max_attempts=3, backoff=ConstantBackoff(3600))
    def flaky() -> None:
        raise RuntimeError("backing off")

    waiting, backing_off = approve.enqueue(), flaky.enqueue()
    drain(basket)
    due = {ref.id: state_of(basket, ref.id).run_at for ref in (waiting, backing_off)}
    basket.send(waiting, "other", 1)  # not what it waits for
    basket.send(backing_off, "decision", 1)  # it waits for nothing: its backoff holds
    for ref in (waiting, backing_off):
        assert state_of(basket, ref.id).run_at == due[ref.id]
    assert state_of(basket, backing_off.id).state is State.RETRYING
    with pytest.raises(TaskStateError, match="no task"):
        basket.send("00000000-0000-7000-8000-000000000000", "decision", 1)
    with pytest.raises(TypeError, match="non-empty str"):
        basket.send(waiting, "", 1)
