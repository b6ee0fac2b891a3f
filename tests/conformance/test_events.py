"""Hooks and middleware: every state change is seen once, and a broken hook breaks nothing."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Generator

import pytest

from taskbasket import Basket, ConfigurationError, Fail, TaskContext
from taskbasket.events import Event
from tests.conformance.test_enqueue import claim
from tests.helpers import wait_for


@pytest.mark.needs("task_records")
def test_hooks_see_each_state_change(basket: Basket) -> None:
    events: list[Event] = []
    lock = threading.Lock()

    @basket.on("enqueued", "started", "succeeded", "retrying", "failed", "cancelled")
    def record(event: Event) -> None:
        with lock:
            events.append(event)

    calls = {"n": 0}

    @basket.task(max_attempts=2, backoff=0.05)
    def flaky() -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("first try fails")

    @basket.task(max_attempts=3)
    def doomed() -> None:
        raise Fail("no")

    began = time.monotonic()
    a = flaky.enqueue()
    b = doomed.enqueue()
    c = flaky.options(delay=3600).enqueue()
    basket.cancel(c.id)
    basket.worker(concurrency=2, visibility_timeout=5, poll_interval=0.05).run_until_empty(30)
    kinds = {(e.task_id, e.kind.value) for e in events}
    assert {(a.id, "enqueued"), (a.id, "started"), (a.id, "retrying"),
            (a.id, "succeeded")} <= kinds
    assert {(b.id, "enqueued"), (b.id, "failed")} <= kinds
    assert (c.id, "cancelled") in kinds
    retrying = next(e for e in events if e.kind == "retrying")
    assert retrying.next_run_at is not None and "first try fails" in (retrying.error or "")
    started = next(e for e in events if e.kind == "started" and e.task_id == a.id)
    # from the task's run_at to its start: within the run, and not since some other time
    assert started.pickup_latency is not None
    assert started.pickup_latency <= time.monotonic() - began
    succeeded = next(e for e in events if e.kind == "succeeded")
    assert succeeded.duration is not None and succeeded.attempt == 2


@pytest.mark.needs("task_records")
def test_a_raising_hook_is_logged_and_changes_nothing(
    basket: Basket, caplog: pytest.LogCaptureFixture
) -> None:
    @basket.on("succeeded", "started", "enqueued")
    def broken(event: Event) -> None:
        raise RuntimeError("hook bug")

    @basket.task
    def job() -> None: ...

    ref = job.enqueue()
    with caplog.at_level(logging.ERROR, logger="taskbasket.events"):
        basket.worker(concurrency=1, visibility_timeout=5).run_until_empty(30)
    assert basket.get(ref.id).state == "succeeded"  # type: ignore[union-attr]
    assert "hook bug" in caplog.text


@pytest.mark.needs("lease_expiry", "task_records")
def test_lease_expired_hook(basket: Basket) -> None:
    seen: list[str] = []
    basket.on("lease_expired")(lambda event: seen.append(event.task_id))

    @basket.task
    def job() -> None: ...

    ref = job.enqueue()
    claim(basket, lease=0.2)  # a worker that then vanished
    worker = basket.worker(concurrency=1, visibility_timeout=5, maintenance_interval=0.05)
    worker.start()
    try:
        wait_for(lambda: ref.id in seen, 20, "the lease_expired event")
        wait_for(lambda: basket.get(ref.id).state == "succeeded", 20,  # type: ignore[union-attr]
                 "the rescued task to run")
    finally:
        worker.stop()


@pytest.mark.needs("task_records")
def test_middleware_wraps_sync_and_async_executions(basket: Basket) -> None:
    log: list[str] = []

    @basket.middleware
    def outer(task: TaskContext) -> Generator[None, None, None]:
        log.append(f"outer-in {task.name}")
        try:
            yield
        except Exception as exc:
            log.append(f"outer-saw {type(exc).__name__}")
            raise
        log.append(f"outer-out {task.name}")

    @basket.middleware
    def inner(task: TaskContext) -> Generator[None, None, None]:
        log.append("inner-in")
        yield
        log.append("inner-out")

    @basket.task
    def sync_job() -> None:
        log.append("sync body")

    @basket.task(max_attempts=1)
    async def async_job() -> None:
        await asyncio.sleep(0)
        raise KeyError("x")

    sync_job.enqueue()
    basket.worker(concurrency=1, visibility_timeout=5).run_until_empty(30)
    assert log == ["outer-in sync_job", "inner-in", "sync body", "inner-out",
                   "outer-out sync_job"]
    log.clear()
    async_job.enqueue()
    basket.worker(concurrency=1, visibility_timeout=5).run_until_empty(30)
    assert log == ["outer-in async_job", "inner-in", "outer-saw KeyError"]


def test_bad_registrations_are_refused(basket: Basket) -> None:
    with pytest.raises(ConfigurationError, match="unknown event 'finished'"):
        basket.on("finished")(print)
    with pytest.raises(ConfigurationError, match="generator function"):
        basket.middleware(lambda task: None)  # type: ignore[arg-type, return-value]


@pytest.mark.needs("task_records")
def test_task_log_lines_carry_structured_fields(
    basket: Basket, caplog: pytest.LogCaptureFixture
) -> None:
    @basket.task(max_attempts=1)
    def job() -> None:
        raise ValueError("bad")

    ref = job.enqueue()
    with caplog.at_level(logging.INFO, logger="taskbasket.tasks"):
        basket.worker(concurrency=1, visibility_timeout=5).run_until_empty(30)
    records = [r for r in caplog.records if r.name == "taskbasket.tasks"]
    assert any("started" in r.getMessage() for r in records)
    failed = [r for r in records if r.levelno == logging.ERROR]
    assert len(failed) == 1 and failed[0].task_id == ref.id  # type: ignore[attr-defined]
    assert failed[0].task_name == "job" and failed[0].attempt == 1  # type: ignore[attr-defined]
