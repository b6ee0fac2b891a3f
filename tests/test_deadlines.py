"""The timeout watcher of sync attempts: it holds running attempts only, and sleeps."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from taskbasket import Basket, State
from taskbasket.backends.base import ClaimedTask
from taskbasket.worker.deadlines import DeadlineWatcher
from taskbasket.worker.job import Job, JobPhase
from tests.helpers import wait_for


def running_job(basket: Basket, task_id: str, timeout: float) -> Job:
    now = datetime.now(UTC)
    claimed = ClaimedTask(task_id, "noop", "default", "[]", 0, 1, 3, timeout, "token", now,
                          now)
    job = Job(claimed, basket.registry["noop"])
    assert job.move(JobPhase.PENDING, JobPhase.RUNNING)  # sets job.started
    return job


def test_expire_once_returns_overrun_attempts_and_forgets_finished_ones(
    tmp_path: Path,
) -> None:
    basket = Basket(f"sqlite:///{tmp_path}/never-opened.db")

    @basket.task
    def noop() -> None: ...

    watcher = DeadlineWatcher(lambda job: None)
    short, long_, finished = (running_job(basket, "a", 1), running_job(basket, "b", 100),
                              running_job(basket, "c", 1))
    for job in (short, long_, finished):
        watcher.watch(job)
    watcher.unwatch(finished)
    assert len(watcher) == 2
    assert watcher.expire_once(short.started + 0.5) == []
    assert watcher.expire_once(short.started + 1) == [short]
    assert len(watcher) == 1  # an expired attempt is dropped as it is reported
    watcher.unwatch(long_)
    assert len(watcher) == 0
    assert watcher.expire_once(long_.started + 1000) == []


def test_the_watcher_thread_calls_back_past_a_deadline_and_stops_on_close(
    tmp_path: Path,
) -> None:
    basket = Basket(f"sqlite:///{tmp_path}/never-opened.db")

    @basket.task
    def noop() -> None: ...

    expired: list[Job] = []
    watcher = DeadlineWatcher(expired.append)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    job = running_job(basket, "a", 0.05)
    watcher.watch(job)
    wait_for(lambda: expired == [job], 10, "the overrun attempt to be reported")
    watcher.close()
    thread.join(10)
    assert not thread.is_alive()


def test_sync_attempts_do_not_wake_the_timeout_watcher_per_task(sqlite_url: str) -> None:
    basket = Basket(sqlite_url)

    @basket.task  # the default timeout: 300 s
    def noop(n: int) -> None:
        return None

    noop.enqueue_many([(i,) for i in range(300)])
    worker = basket.worker(concurrency=8, poll_interval=0.05)
    worker.start()
    try:
        wait_for(lambda: basket.count(State.SUCCEEDED) == 300, 60, "the drain")
        # the first attempt may wake the watcher (if it waits already) to see its
        # deadline; no later one does, since each ends after that one
        assert worker._deadlines.wakeups <= 1
        assert len(worker._deadlines) == 0  # and it holds no finished attempt
    finally:
        worker.stop()
        basket.close()
