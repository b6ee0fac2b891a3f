"""Durable steps (#23): ``ctx.step`` runs a body once and stores its result, fenced by
the lease; a run of the handler replays the stored steps from the top; a step that raises
is not stored; step names are unique in a run and run in the stored order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from taskbasket import Basket, ConstantBackoff, State, UnsupportedOperationError, current_task
from taskbasket.backends.base import Lease
from taskbasket.backends.step_params import StepsListParams, StepsRecordParams
from taskbasket.errors import StepNotRecorded
from taskbasket.steps.runner import StepRunner
from taskbasket.testing import drain
from tests.conformance.test_enqueue import claim


def ctx() -> Any:
    context = current_task()
    assert context is not None
    return context


def final(basket: Basket, task_id: str) -> Any:
    task = basket.get(task_id)
    assert task is not None
    return task


@pytest.mark.needs("steps")
def test_completed_steps_are_cached_across_retries(basket: Basket) -> None:
    runs: list[str] = []

    def body(label: str, value: Any) -> Any:
        runs.append(label)
        return value

    def flaky() -> int:
        runs.append("flaky")
        if runs.count("flaky") < 3:
            raise RuntimeError("not yet")
        return 3

    @basket.task(max_attempts=5, backoff=ConstantBackoff(0))
    def checkout(order: int) -> list[Any]:
        charge = ctx().step("charge", body, "charge", {"order": order, "ids": (1, 2)})
        receipt = ctx().step("receipt", flaky)
        return [charge, receipt]

    ref = checkout.enqueue(7)
    drain(basket)
    task = final(basket, ref.id)
    assert task.state is State.SUCCEEDED, task.last_error
    assert task.result == [{"order": 7, "ids": [1, 2]}, 3]  # as JSON gives it back
    assert runs == ["charge", "flaky", "flaky", "flaky"]  # the charge ran once
    assert task.attempts == 3


@pytest.mark.needs("steps")
def test_async_handlers_use_step_async(basket: Basket) -> None:
    runs: list[str] = []

    async def fetch(n: int) -> int:
        runs.append("fetch")
        await asyncio.sleep(0)
        return n * 2

    @basket.task(max_attempts=3, backoff=ConstantBackoff(0))
    async def pipeline(n: int) -> int:
        doubled = await ctx().step_async("fetch", fetch, n)
        plain = await ctx().step_async("plain", lambda: runs.append("plain") or 1)
        if len(runs) < 3:
            runs.append("boom")
            raise RuntimeError("once")
        return int(doubled) + int(plain)

    ref = pipeline.enqueue(5)
    drain(basket)
    task = final(basket, ref.id)
    assert task.state is State.SUCCEEDED, task.last_error
    assert task.result == 11 and runs == ["fetch", "plain", "boom"]


@pytest.mark.needs("steps")
def test_a_raising_step_is_not_stored(basket: Basket) -> None:
    attempts: list[int] = []

    def charge() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("card declined")
        return "ok"

    @basket.task(max_attempts=3, backoff=ConstantBackoff(0))
    def pay() -> str:
        return str(ctx().step("charge", charge))

    ref = pay.enqueue()
    drain(basket)
    task = final(basket, ref.id)
    assert task.state is State.SUCCEEDED and task.result == "ok"
    assert len(attempts) == 2  # the raising run stored nothing, so the body ran again
    stored = basket.backend.steps_list(StepsListParams(ref.id))
    assert stored is not None and stored.steps is not None and '"charge"' in stored.steps


@pytest.mark.needs("steps")
def test_a_stale_lease_cannot_record_a_step(basket: Basket) -> None:
    @basket.task
    def job() -> None: ...

    ref = job.enqueue()
    [claimed] = claim(basket)
    backend = basket.backend
    stale = Lease(ref.id, "not-the-token")
    assert not backend.steps_record(StepsRecordParams(stale, '[["a","1"]]'))
    runner = StepRunner(backend, claimed)
    assert runner.step("a", lambda: 1) == 1
    row = backend.steps_list(StepsListParams(ref.id))
    assert row is not None and row.state is State.RUNNING and row.steps == '[["a","1"]]'
    basket.cancel(ref.id)  # the attempt loses its lease
    with pytest.raises(StepNotRecorded, match="lease"):
        runner.step("b", lambda: 2)
    row = backend.steps_list(StepsListParams(ref.id))
    assert row is not None and row.steps == '[["a","1"]]'
    assert backend.steps_list(StepsListParams("00000000-0000-7000-8000-000000000000")) is None


@pytest.mark.needs("steps")
def test_a_step_name_used_twice_fails_the_task_naming_it(basket: Basket) -> None:
    @basket.task(max_attempts=3)
    def twice() -> None:
        ctx().step("fetch", lambda: 1)
        ctx().step("fetch", lambda: 2)

    ref = twice.enqueue()
    drain(basket)
    task = final(basket, ref.id)
    assert task.state is State.FAILED and task.attempts == 1
    assert "StepDeterminismError" in (task.last_error or "")
    assert "'fetch' is used twice" in (task.last_error or "")


@pytest.mark.needs("steps")
def test_a_step_that_raised_may_be_tried_again_under_its_name(basket: Basket) -> None:
    tries: list[int] = []

    def flaky() -> int:
        tries.append(1)
        if len(tries) == 1:
            raise ValueError("first try")
        return 5

    @basket.task(max_attempts=1)
    def job() -> int:
        try:
            return int(ctx().step("x", flaky))
        except ValueError:
            return int(ctx().step("x", flaky))  # not recorded: the name is still free

    ref = job.enqueue()
    drain(basket)
    task = final(basket, ref.id)
    assert task.state is State.SUCCEEDED and task.result == 5 and len(tries) == 2


@pytest.mark.needs("steps")
def test_steps_in_another_order_than_the_stored_run_fail_naming_both(basket: Basket) -> None:
    runs: list[int] = []

    @basket.task(max_attempts=3, backoff=ConstantBackoff(0))
    def swapped() -> None:
        runs.append(1)
        order = ["a", "b"] if len(runs) == 1 else ["b", "a"]
        for name in order:
            ctx().step(name, str, name)
        if len(runs) == 1:
            raise RuntimeError("run again")

    ref = swapped.enqueue()
    drain(basket)
    task = final(basket, ref.id)
    assert task.state is State.FAILED and task.attempts == 2
    error = task.last_error or ""
    assert "step 1 of this run is 'b'" in error and "was 'a'" in error


@pytest.mark.lacks("steps")
def test_steps_and_messages_are_refused_naming_the_transport(basket: Basket) -> None:
    with pytest.raises(UnsupportedOperationError, match=type(basket.backend).__name__):
        basket.send("00000000-0000-7000-8000-000000000000", "go", 1)
    with pytest.raises(UnsupportedOperationError, match="steps"):
        basket.backend.steps_list(StepsListParams("x"))
