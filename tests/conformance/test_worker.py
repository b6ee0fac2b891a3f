"""A worker in this process: handlers, retries, timeouts, bad stored data, stopping."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from taskbasket import Basket, ExponentialBackoff, Fail, Retry, State, current_task
from taskbasket.backends.base import NewTask
from tests.apps import cpuapp
from tests.helpers import wait_for


@pytest.mark.needs("task_records")
def test_sync_and_async_handlers_run(basket: Basket) -> None:
    seen: list[object] = []

    @basket.task(queue="emails")
    def send_email(to: str, subject: str) -> None:
        seen.append((to, subject, threading.current_thread().name))

    @basket.task
    async def refresh(feed_id: int) -> None:
        await asyncio.sleep(0)
        ctx = current_task()
        seen.append(("refresh", feed_id, ctx.attempt if ctx else None))

    a = send_email.enqueue("a@b.c", subject="hi")
    b = refresh.enqueue(7)
    basket.worker(concurrency=4, visibility_timeout=5).run_until_empty(timeout=30)
    assert ("refresh", 7, 1) in seen
    assert any(s[0] == "a@b.c" and "taskbasket-thread" in str(s[2]) for s in seen)
    for ref in (a, b):
        task = basket.get(ref.id)
        assert task is not None and task.state == "succeeded" and task.attempts == 1


@pytest.mark.needs("task_records")
def test_exception_retries_with_backoff_then_succeeds(basket: Basket) -> None:
    attempts: list[float] = []

    @basket.task(max_attempts=5, backoff=ExponentialBackoff(base=0.2, factor=2, jitter=0))
    def flaky() -> None:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise ValueError(f"flake {len(attempts)}")

    ref = flaky.enqueue()
    basket.worker(concurrency=2, visibility_timeout=5, poll_interval=0.05).run_until_empty(30)
    task = basket.get(ref.id)
    assert task is not None and task.state == "succeeded" and task.attempts == 3
    assert "flake 2" in (task.last_error or "")
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.19 and gaps[1] >= 0.39  # 0.2 s, then 0.4 s


@pytest.mark.needs("task_records")
def test_gives_up_after_max_attempts_with_the_traceback(basket: Basket) -> None:
    @basket.task(max_attempts=2, backoff=0.05)
    def always_fails() -> None:
        raise RuntimeError("it is broken")

    ref = always_fails.enqueue()
    basket.worker(concurrency=1, visibility_timeout=5, poll_interval=0.05).run_until_empty(30)
    task = basket.get(ref.id)
    assert task is not None and task.state == "failed" and task.attempts == 2
    assert "RuntimeError: it is broken" in (task.last_error or "")
    assert "Traceback" in (task.last_error or "")
    assert "gave up after attempt 2 of 2" in (task.last_error or "")


@pytest.mark.needs("task_records")
def test_fail_stops_retries_and_retry_picks_the_time(basket: Basket) -> None:
    @basket.task(max_attempts=5)
    def fails_now() -> None:
        raise Fail("bad address")

    @basket.task(max_attempts=5)
    def later() -> None:
        raise Retry("rate limited", delay=3600)

    @basket.task(max_attempts=5)
    def at_time() -> None:
        raise Retry("at noon", at=datetime(2099, 1, 1, 12, tzinfo=UTC))

    a, b, c = fails_now.enqueue(), later.enqueue(), at_time.enqueue()
    worker = basket.worker(concurrency=3, visibility_timeout=5)
    worker.start()
    try:
        wait_for(lambda: basket.count(["failed", "retrying"]) == 3, 20, "three outcomes")
    finally:
        worker.stop()
    ta, tb, tc = basket.get(a.id), basket.get(b.id), basket.get(c.id)
    assert ta and ta.state == "failed" and ta.attempts == 1 and "bad address" in ta.last_error
    assert tb and tb.state == "retrying" and "rate limited" in (tb.last_error or "")
    assert tb.run_at > datetime.now(UTC) + timedelta(minutes=55)
    assert tc and tc.state == "retrying" and tc.run_at.year == 2099


@pytest.mark.needs("task_records")
def test_async_timeout_cancels_the_handler(basket: Basket) -> None:
    cancelled = threading.Event()

    @basket.task(timeout=0.3, max_attempts=1)
    async def hangs() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    ref = hangs.enqueue()
    basket.worker(concurrency=2, visibility_timeout=5).run_until_empty(timeout=30)
    task = basket.get(ref.id)
    assert task is not None and task.state == "failed"
    assert "TaskTimeout" in (task.last_error or "") and "timeout" in (task.last_error or "")
    assert cancelled.is_set()


@pytest.mark.needs("task_records")
def test_sync_timeout_abandons_the_thread_and_discards_its_result(basket: Basket) -> None:
    release = threading.Event()
    finished = threading.Event()

    @basket.task(timeout=0.3, max_attempts=1)
    def hangs() -> None:
        release.wait(30)
        finished.set()

    @basket.task
    def quick(n: int) -> None: ...

    ref = hangs.enqueue()
    worker = basket.worker(concurrency=1, visibility_timeout=5, poll_interval=0.05)
    worker.start()
    try:
        wait_for(lambda: basket.get(ref.id).state == "failed", 20,  # type: ignore[union-attr]
                 "the timed-out attempt to be recorded")
        # the slot was replaced: other tasks run although the hung thread still runs
        quick_ref = quick.enqueue(1)
        wait_for(lambda: basket.get(quick_ref.id).state == "succeeded",  # type: ignore[union-attr]
                 20, "a task to run in the replacement slot")
        assert worker.abandoned_threads == 1
        release.set()
        assert finished.wait(10)
        wait_for(lambda: worker.stats["discarded"] == 1, 10, "the late result to be dropped")
    finally:
        release.set()
        worker.stop()
    task = basket.get(ref.id)
    assert task is not None and task.state == "failed"  # never reported as success
    assert "TaskTimeout" in (task.last_error or "")


@pytest.mark.needs("task_records")
def test_undecodable_arguments_fail_that_task_only(basket: Basket) -> None:
    ran: list[int] = []

    @basket.task(max_attempts=3)
    def job(n: int) -> None:
        ran.append(n)

    basket.backend.tasks_insert([NewTask(
        id="01a20000-0000-7000-8000-0000000000aa", name="job", queue="default",
        payload='{"args": [1, ', max_attempts=3)])
    good = job.enqueue(2)
    basket.worker(concurrency=2, visibility_timeout=5).run_until_empty(timeout=30)
    bad = basket.get("01a20000-0000-7000-8000-0000000000aa")
    assert bad is not None and bad.state == "failed" and bad.attempts == 1
    assert "cannot be decoded" in (bad.last_error or "")
    assert basket.get(good.id).state == "succeeded"  # type: ignore[union-attr]
    assert ran == [2]


@pytest.mark.needs("many_workers", "task_records")
def test_long_task_keeps_its_lease_with_heartbeats(basket: Basket) -> None:
    runs: list[int] = []

    @basket.task(timeout=30)
    def long() -> None:
        runs.append(1)
        time.sleep(2.5)  # five visibility timeouts

    ref = long.enqueue()
    first = basket.worker(concurrency=1, visibility_timeout=0.5, poll_interval=0.05)
    second = basket.worker(concurrency=1, visibility_timeout=0.5, poll_interval=0.05)
    first.start()
    wait_for(lambda: basket.get(ref.id).state == "running", 10, "start")  # type: ignore[union-attr]
    second.start()
    try:
        wait_for(lambda: basket.get(ref.id).state == "succeeded",  # type: ignore[union-attr]
                 20, "the long task to finish")
    finally:
        first.stop()
        second.stop()
    assert runs == [1]
    assert basket.get(ref.id).attempts == 1  # type: ignore[union-attr]


@pytest.mark.needs("task_records")
def test_stop_hands_back_unstarted_and_waits_for_running(
    store_url: str, tmp_path: Path
) -> None:
    """A worker with one child process claims three tasks: one runs, two wait for the
    child. ``stop`` hands the two back at once (queued, no attempt spent) while the first
    still runs, then waits for the first within the grace period."""
    release = tmp_path / "release"
    basket = Basket(store_url)
    gate = cpuapp.basket.registry["gate"]
    basket.task(name="gate", executor="process", timeout=gate.timeout)(gate.func)
    refs = [basket.enqueue("gate", args=[str(release)]) for _ in range(3)]
    worker = basket.worker(concurrency=3, processes=1, visibility_timeout=60,
                           grace_period=60, poll_interval=0.05)
    worker.start()
    stopping = threading.Thread(target=worker.stop)
    try:
        wait_for(lambda: basket.count(State.RUNNING) == 3, 30, "all three to be claimed")
        wait_for((tmp_path / "release.started").exists, 30, "one of them to start")
        stopping.start()
        wait_for(lambda: basket.count(State.QUEUED) == 2, 20,
                 "the two unstarted tasks to be handed back")
        assert basket.count(State.RUNNING) == 1 and stopping.is_alive()  # it still runs
        handed_back = basket.list(State.QUEUED)
        assert [task.attempts for task in handed_back] == [0, 0]
        release.touch()
        stopping.join(60)
        assert not stopping.is_alive()
        [done] = basket.list(State.SUCCEEDED)
        assert done.attempts == 1
        assert {done.id, *(task.id for task in handed_back)} == {ref.id for ref in refs}
    finally:
        release.touch()
        worker.stop()  # safe while the thread's stop runs: it waits for that one
        basket.close()


@pytest.mark.needs("task_records")
def test_stop_after_grace_period_records_the_interruption(basket: Basket) -> None:
    started = threading.Event()

    @basket.task(max_attempts=3)
    def stuck() -> None:
        started.set()
        time.sleep(5)

    ref = stuck.enqueue()
    worker = basket.worker(concurrency=1, visibility_timeout=10, grace_period=0.2)
    worker.start()
    assert started.wait(10)
    worker.stop()
    task = basket.get(ref.id)
    assert task is not None and task.state == "retrying" and task.attempts == 1
    assert "grace period" in (task.last_error or "")


def test_stop_is_safe_twice_and_from_threads(basket: Basket) -> None:
    @basket.task
    def job() -> None: ...

    worker = basket.worker(concurrency=2, visibility_timeout=5)
    worker.start()
    threads = [threading.Thread(target=worker.stop) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
        assert not thread.is_alive()
    worker.stop()


def test_worker_without_tasks_explains(basket: Basket) -> None:
    from taskbasket import ConfigurationError

    with pytest.raises(ConfigurationError, match="no tasks registered"):
        basket.worker().start()
