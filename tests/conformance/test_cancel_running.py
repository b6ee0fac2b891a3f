"""``basket.cancel`` of a running task reaches its attempt, on every store: an async
handler is cancelled, a process handler's child killed and replaced, a thread handler
sees ``current_task().cancelled``; whatever the handler does then, the task ends
``cancelled`` with the reason in ``last_error`` and no result.

The deadline asserted is generous (a shared CI machine); the one-second p99 is a figure
of ``make bench`` (benchmarks/cancel_latency.py). The workers' visibility timeout is long,
so that their heartbeat (which also notices a lost lease) cannot be what stops a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskbasket import Basket, TaskCancelled, TaskFailed, current_task
from taskbasket.task import State
from taskbasket.worker import Worker
from tests.helpers import wait_for

DEADLINE = 10.0
"""The longest the cancel of a running task may take to stop its handler here."""
LEASE = 120.0
"""The workers' visibility timeout: a heartbeat every 40 s, after the deadline."""

pytestmark = pytest.mark.needs("cancel_running")


@pytest.fixture
def worker(basket: Basket) -> Iterator[Worker]:
    """A started worker of ``basket`` (its tasks registered by the test first)."""
    made: list[Worker] = []

    def start() -> Worker:
        made.append(basket.worker(concurrency=2, visibility_timeout=LEASE))
        made[0].start()
        return made[0]

    yield start  # type: ignore[misc]
    for each in made:
        each.stop(grace_period=5)


def assert_cancelled(basket: Basket, task_id: str, reason: str) -> None:
    """The task ended cancelled with ``reason`` as its last error, and keeps no result."""
    task = basket.get(task_id)
    assert task is not None and task.state is State.CANCELLED, task
    assert task.last_error == reason and task.result is None
    with pytest.raises(TaskFailed) as raised:
        basket.result(task_id, timeout=5)
    assert raised.value.state == State.CANCELLED


def test_cancel_stops_a_running_async_handler(basket: Basket, worker: Any) -> None:
    started, stopped = threading.Event(), threading.Event()
    reasons: list[str] = []

    @basket.task
    async def slow() -> str:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError as exc:
            reasons.extend(exc.args)
            stopped.set()
            raise
        return "late"

    ref = slow.enqueue()
    running = worker()
    assert started.wait(30), "the handler never started"
    asked = time.monotonic()
    assert basket.cancel(ref.id, reason="not needed any more") == 1
    assert stopped.wait(DEADLINE), "the async handler was not cancelled"
    assert time.monotonic() - asked < DEADLINE
    assert reasons == ["not needed any more"]  # the CancelledError's message
    wait_for(lambda: running.in_flight == 0, DEADLINE, "the worker to let the task go")
    assert_cancelled(basket, ref.id, "not needed any more")
    assert running.stats["cancelled"] == 1 and running.stats["succeeded"] == 0


def test_cancel_reaches_a_thread_handler(basket: Basket, worker: Any) -> None:
    started = threading.Event()
    seen: dict[str, Any] = {}

    @basket.task
    def export() -> None:
        context = current_task()
        assert context is not None
        started.set()
        try:
            try:
                while True:
                    context.raise_if_cancelled()
                    time.sleep(0.01)
            except Exception:  # a handler's catch-all does not swallow the cancel
                seen["swallowed"] = True
        except TaskCancelled as exc:
            seen["reason"], seen["flag"] = exc.reason, context.cancelled
            seen["at"] = time.monotonic()
            raise

    ref = export.enqueue()
    running = worker()
    assert started.wait(30), "the handler never started"
    asked = time.monotonic()
    basket.cancel(ref.id, reason="the report was withdrawn")
    wait_for(lambda: "at" in seen, DEADLINE, "the thread handler to see the cancel")
    assert seen["at"] - asked < DEADLINE
    assert seen == {"reason": "the report was withdrawn", "flag": True, "at": seen["at"]}
    wait_for(lambda: running.in_flight == 0, DEADLINE, "the worker to let the task go")
    assert_cancelled(basket, ref.id, "the report was withdrawn")


def test_a_handler_that_ignores_the_cancel_records_nothing(
        basket: Basket, worker: Any) -> None:
    """Fencing: a thread handler that sees the cancel and returns anyway, and an async one
    that swallows its CancelledError and returns, both end cancelled without a result."""
    started = threading.Barrier(3, timeout=30)

    @basket.task
    def stubborn() -> str:
        context = current_task()
        assert context is not None
        started.wait()
        wait_for(lambda: context.cancelled, DEADLINE, "the cancel to reach the thread")
        return "done anyway"

    @basket.task
    async def swallower() -> str:
        await asyncio.to_thread(started.wait)
        with contextlib.suppress(asyncio.CancelledError):  # swallowed: still cancelled
            await asyncio.sleep(60)
        return "done anyway"

    refs = [stubborn.enqueue(), swallower.enqueue()]
    running = worker()
    started.wait()
    assert basket.cancel([r.id for r in refs]) == 2
    wait_for(lambda: running.in_flight == 0, DEADLINE, "both attempts to end")
    for ref in refs:
        assert_cancelled(basket, ref.id, "cancelled")
    assert running.stats["succeeded"] == 0 and running.stats["cancelled"] == 2


def test_cancel_kills_a_process_handler_and_replaces_its_child(
        cpu_basket: Basket, tmp_path: Path) -> None:
    basket = cpu_basket
    pid_file = tmp_path / "child.pid"
    ref = basket.enqueue("linger", [str(pid_file)])
    running = basket.worker(concurrency=1, processes=1, visibility_timeout=LEASE)
    running.start()
    try:
        wait_for(pid_file.exists, 60, "the child to start the task")
        pid = int(pid_file.read_text())
        asked = time.monotonic()
        basket.cancel(ref.id, reason="stop the child")
        wait_for(lambda: not _alive(pid), DEADLINE, "the child to be killed")
        assert time.monotonic() - asked < DEADLINE
        wait_for(lambda: running.in_flight == 0, DEADLINE, "the worker to let the task go")
        assert_cancelled(basket, ref.id, "stop the child")
        after = basket.enqueue("answer", [21])
        assert basket.result(after.id, timeout=60) == {"answer": 42}  # in a new child
    finally:
        running.stop(grace_period=5)


def test_a_task_cancelled_before_its_attempt_starts_never_starts(
        cpu_basket: Basket, tmp_path: Path) -> None:
    """Two process tasks claimed for one child: the second waits for the slot; cancelled
    meanwhile, it never runs, and its slot is free at once."""
    basket = cpu_basket
    first, second = tmp_path / "first.pid", tmp_path / "second.pid"
    refs = [basket.enqueue("linger", [str(first)]), basket.enqueue("linger", [str(second)])]
    running = basket.worker(concurrency=2, processes=1, visibility_timeout=LEASE)
    running.start()
    try:
        wait_for(first.exists, 60, "the first task to run")
        wait_for(lambda: running.in_flight == 2, 20, "both tasks to be claimed")
        basket.cancel(refs[1].id, reason="never mind")
        wait_for(lambda: running.in_flight == 1, DEADLINE, "the waiting task to be dropped")
        assert_cancelled(basket, refs[1].id, "never mind")
        basket.cancel(refs[0].id)
        wait_for(lambda: running.in_flight == 0, DEADLINE, "the running task to stop")
        assert not second.exists(), "the cancelled task started after all"
        assert running.stats["cancelled"] == 2
    finally:
        running.stop(grace_period=5)


def test_cancel_during_a_graceful_shutdown(basket: Basket) -> None:
    """A worker waiting out its grace period for a running task still hears its cancel:
    the handler stops, the stop returns long before the grace period ends, and the task
    ends cancelled, not interrupted."""
    started = threading.Event()

    @basket.task
    def export() -> None:
        context = current_task()
        assert context is not None
        started.set()
        while True:
            context.raise_if_cancelled()
            time.sleep(0.01)

    ref = export.enqueue()
    running = basket.worker(concurrency=1, visibility_timeout=LEASE)
    running.start()
    assert started.wait(30), "the handler never started"
    stopper = threading.Thread(target=running.stop, kwargs={"grace_period": 60})
    stopper.start()
    wait_for(lambda: not running.health.check().ready, 10, "the worker to begin stopping")
    basket.cancel(ref.id, reason="shutting down anyway")
    stopper.join(DEADLINE + 10)
    assert not stopper.is_alive(), "the stop waited out its grace period"
    assert_cancelled(basket, ref.id, "shutting down anyway")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_store_pushes_cancels_where_it_can(basket: Basket, store_name: str) -> None:
    """NOTIFY, pub/sub, a wake-up socket, the memory store's condition: pushed; MySQL has
    no notifications, so its workers poll the tasks they run."""
    from taskbasket.backends.base import PollingListener

    listener = basket.backend.cancel_listener()
    try:
        assert isinstance(listener, PollingListener) is (store_name == "mysql")
    finally:
        listener.close()
