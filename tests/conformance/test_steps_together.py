"""Durable steps (#23) with the worker's other features, on every store: a cancel that
reaches an attempt inside a step leaves no step recorded (the lease fences the record);
prefetched tasks run their steps and sleeps as claimed ones do; and a task waiting in a
durable sleep or receive holds no flow-control slot (it is ``scheduled``, not running)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from taskbasket import Basket, State
from tests.conformance.test_steps import ctx
from tests.conformance.test_steps import final as state_of
from tests.helpers import wait_for


@pytest.mark.needs("steps", "cancel_running")
def test_a_task_cancelled_inside_a_step_records_no_step(basket: Basket) -> None:
    inside, release, left = threading.Event(), threading.Event(), threading.Event()

    @basket.task
    def slow() -> str:
        def work() -> str:
            inside.set()
            release.wait(20)
            return "late"

        try:
            ctx().step("work", work)
            ctx().step("after", lambda: "never")
        finally:
            left.set()
        return "end"

    ref = slow.enqueue()
    worker = basket.worker(concurrency=1, visibility_timeout=120, poll_interval=0.05)
    worker.start()
    try:
        assert inside.wait(20), "the step to start"
        basket.cancel(ref.id, reason="stop it")
        wait_for(lambda: state_of(basket, ref.id).state is State.CANCELLED, 20, "the cancel")
        release.set()  # the step returns after the cancel took the lease
        assert left.wait(20), "the handler to leave"
    finally:
        release.set()
        worker.stop(grace_period=5)
    task = state_of(basket, ref.id)
    assert task.state is State.CANCELLED and task.last_error == "stop it"
    assert basket.steps(ref.id) == []  # the late step's record was refused


@pytest.mark.needs("steps")
def test_prefetched_tasks_run_their_steps_and_sleeps(basket: Basket) -> None:
    runs: list[tuple[int, str]] = []
    lock = threading.Lock()

    def ran(n: int, what: str) -> str:
        with lock:
            runs.append((n, what))
        return f"{what}{n}"

    @basket.task(max_attempts=1)
    def flow(n: int) -> str:
        first = ctx().step("first", ran, n, "a")
        ctx().sleep(0.2)
        second = ctx().step("second", ran, n, "b")
        return first + second

    refs = [flow.enqueue(n) for n in range(8)]
    worker = basket.worker(concurrency=1, prefetch=4, poll_interval=0.05)
    worker.start()
    try:
        wait_for(lambda: all(state_of(basket, ref.id).state is State.SUCCEEDED
                             for ref in refs), 60, "every task to finish")
    finally:
        worker.stop(grace_period=5)
    for n, ref in enumerate(refs):
        task = state_of(basket, ref.id)
        assert task.result == f"a{n}b{n}" and task.attempts == 1
        assert [name for name, _ in basket.steps(ref.id)] == ["first", "sleep", "second"]
    assert sorted(runs) == sorted((n, what) for n in range(8) for what in "ab")


@pytest.mark.needs("steps", "flow_control")
def test_a_task_waiting_to_receive_holds_no_flow_slot(basket: Basket) -> None:
    @basket.task(concurrency=1, limit_key=lambda role, target: "acct")
    def job(role: str, target: str) -> Any:
        if role == "wait":
            return ctx().receive("go", timeout=3600)
        basket.send(target, "go", "now")
        return "sent"

    waiter = job.enqueue("wait", "")
    worker = basket.worker(concurrency=2, poll_interval=0.05)
    worker.start()
    try:
        wait_for(lambda: state_of(basket, waiter.id).state is State.SCHEDULED, 20,
                 "the waiter to wait")
        sender = job.enqueue("send", waiter.id)  # same key, limit 1: runs only if free
        wait_for(lambda: state_of(basket, sender.id).state is State.SUCCEEDED, 20,
                 "the sender to run beside the waiting task")
        wait_for(lambda: state_of(basket, waiter.id).state is State.SUCCEEDED, 20,
                 "the waiter to be woken by the send")
    finally:
        worker.stop(grace_period=5)
    assert state_of(basket, waiter.id).result == "now"


@pytest.mark.needs("steps", "flow_control")
def test_a_durable_sleeper_holds_no_flow_slot(basket: Basket) -> None:
    @basket.task(concurrency=1, limit_key=lambda sleep: "acct")
    def job(sleep: bool) -> str:
        if sleep:
            ctx().sleep(3600)
        return "done"

    sleeper = job.enqueue(True)
    worker = basket.worker(concurrency=2, poll_interval=0.05)
    worker.start()
    try:
        wait_for(lambda: state_of(basket, sleeper.id).state is State.SCHEDULED, 20,
                 "the sleeper to sleep")
        other = job.enqueue(False)
        wait_for(lambda: state_of(basket, other.id).state is State.SUCCEEDED, 20,
                 "a task of the same key to run while it sleeps")
    finally:
        worker.stop(grace_period=5)
    task = state_of(basket, sleeper.id)
    assert task.state is State.SCHEDULED and task.attempts == 0 and task.snoozes == 0
