"""Real worker processes, killed for real: nothing is lost, nothing runs twice needlessly."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskbasket import AttemptEntry, Basket, State
from tests.apps import crashapp
from tests.helpers import Effects, WorkerProcess, wait_for

# worker processes open the store by its URL
pytestmark = [pytest.mark.slow, pytest.mark.needs("shared_between_processes")]


@pytest.fixture
def effects(tmp_path: Path) -> Effects:
    return Effects(tmp_path / "effects.db")


@pytest.fixture
def spawn(store_url: str, effects: Effects) -> Iterator[object]:
    workers: list[WorkerProcess] = []

    def start(*args: str) -> WorkerProcess:
        worker = WorkerProcess(store_url, effects.path, *args)
        workers.append(worker)
        worker.wait_started()
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def producer(store_url: str) -> Iterator[Basket]:
    basket = Basket(store_url)
    for definition in crashapp.basket.registry.values():
        basket.task(name=definition.name, max_attempts=definition.max_attempts,
                    timeout=definition.timeout)(definition.func)
    yield basket
    basket.close()


def _state(basket: Basket, task_id: str) -> State | None:
    task = basket.get(task_id)
    return task.state if task else None


@pytest.mark.needs("task_records")
def test_sigkill_mid_task_another_worker_finishes_it(
    producer: Basket, effects: Effects, spawn
) -> None:
    victim = spawn("--visibility-timeout", "1", "--concurrency", "1")
    ref = producer.enqueue("slow", args=[1.0])
    wait_for(lambda: effects.events(ref.id, "start"), 20, "the task to start")
    victim.kill()
    spawn("--visibility-timeout", "1", "--concurrency", "1")
    wait_for(lambda: _state(producer, ref.id) == "succeeded", 30, "the rescue")
    task = producer.get(ref.id)
    assert task is not None and task.attempts == 2
    assert "lease expired" in (task.last_error or "")
    done = effects.events(ref.id, "done")
    assert [row[1] for row in done] == [2]  # the effect happened once, on attempt 2


@pytest.mark.needs("history", "task_records")
def test_a_sigkilled_workers_attempt_is_in_the_history_before_the_one_that_succeeded(
    producer: Basket, effects: Effects, spawn
) -> None:
    victim = spawn("--visibility-timeout", "1", "--concurrency", "1")
    ref = producer.enqueue("slow", args=[1.0])
    wait_for(lambda: effects.events(ref.id, "start"), 20, "the task to start")
    running = producer.get(ref.id)
    assert running is not None and running.worker_id
    victim.kill()
    survivor = spawn("--visibility-timeout", "1", "--concurrency", "1")
    survivor.wait_for(lambda: _state(producer, ref.id) == "succeeded", 30,
                      "the rescue and the second attempt")
    task = producer.get(ref.id)
    assert task is not None
    lost, succeeded = (e for e in task.history if isinstance(e, AttemptEntry))
    assert (lost.attempt, lost.worker_id, lost.outcome) == (
        1, running.worker_id, "lease_expired")
    assert lost.error.startswith("lease expired on attempt 1 of 3")
    assert lost.started_at <= lost.ended_at
    assert (succeeded.attempt, succeeded.outcome) == (2, "succeeded")
    assert succeeded.worker_id not in (None, running.worker_id)


@pytest.mark.needs("task_records")
def test_poison_task_that_kills_its_worker_ends_failed(
    producer: Basket, effects: Effects, spawn
) -> None:
    ref = producer.enqueue("kill_worker", max_attempts=2)
    workers = [spawn("--visibility-timeout", "0.6", "--concurrency", "1")]

    def failed_or_respawn() -> bool:
        if _state(producer, ref.id) == "failed":
            return True
        if workers[-1].proc.poll() is not None:  # it killed its worker: start another
            workers.append(spawn("--visibility-timeout", "0.6", "--concurrency", "1"))
        return False

    wait_for(failed_or_respawn, 60, "the poison task to be given up", interval=0.1)
    task = producer.get(ref.id)
    assert task is not None and task.attempts == 2
    assert "lease expired on attempt 2 of 2" in (task.last_error or "")
    assert len(effects.events(ref.id, "start")) == 2


@pytest.mark.needs("many_workers", "task_records")
def test_task_far_longer_than_the_lease_runs_once(
    producer: Basket, effects: Effects, spawn
) -> None:
    spawn("--visibility-timeout", "0.6", "--concurrency", "1")
    spawn("--visibility-timeout", "0.6", "--concurrency", "1")
    ref = producer.enqueue("slow", args=[3.0])  # five visibility timeouts
    wait_for(lambda: _state(producer, ref.id) == "succeeded", 30, "the long task")
    assert len(effects.events(ref.id, "start")) == 1
    assert producer.get(ref.id).attempts == 1  # type: ignore[union-attr]


@pytest.mark.needs("many_workers", "task_records")
def test_lazy_claiming_no_task_waits_behind_a_busy_worker(
    producer: Basket, effects: Effects, spawn
) -> None:
    spawn("--concurrency", "1", "--poll-interval", "0.1")
    spawn("--concurrency", "1", "--poll-interval", "0.1")
    refs = [producer.enqueue("slow", args=[1.5]) for _ in range(2)]
    wait_for(lambda: len(effects.events(event="start")) == 2, 10,
             "both tasks to start at once, one per worker")
    pids = {row[3] for row in effects.events(event="start")}
    assert len(pids) == 2
    wait_for(lambda: all(_state(producer, r.id) == "succeeded" for r in refs), 20, "finish")


@pytest.mark.needs("task_records")
def test_sigterm_drains_running_and_hands_back_the_rest(
    store_url: str, effects: Effects, tmp_path: Path
) -> None:
    """Three tasks claimed by a worker with one child process: one runs, two wait for the
    child. SIGTERM hands those two back at once (queued, no attempt spent) while the first
    still runs; the first then finishes within the grace period and the worker exits 0."""
    release, started = tmp_path / "release", tmp_path / "release.started"
    worker: WorkerProcess | None = None
    with Basket(store_url) as producer:
        refs = [producer.enqueue("gate", args=[str(release)]) for _ in range(3)]
        try:
            worker = WorkerProcess(store_url, effects.path, "--concurrency", "3",
                                   "--processes", "1", "--grace-period", "60",
                                   "--visibility-timeout", "60", app="tests.apps.cpuapp:basket")
            worker.wait_started()
            worker.wait_for(lambda: producer.count(State.RUNNING) == 3, 30,
                            "all three to be claimed")
            worker.wait_for(started.exists, 30, "one of them to start")
            worker.proc.send_signal(signal.SIGTERM)
            worker.wait_for(lambda: producer.count(State.QUEUED) == 2, 20,
                            "the two unstarted tasks to be handed back")
            # at once: the started task still runs, and so does the worker
            assert producer.count(State.RUNNING) == 1 and worker.proc.poll() is None
            handed_back = producer.list(State.QUEUED)
            assert [task.attempts for task in handed_back] == [0, 0]
            release.touch()
            assert worker.proc.wait(60) == 0
            [done] = producer.list(State.SUCCEEDED)
            assert done.attempts == 1
            assert {done.id, *(task.id for task in handed_back)} == {ref.id for ref in refs}
            assert "stopped" in worker.log()
        finally:
            release.touch()
            if worker is not None:
                worker.stop()


def test_second_signal_exits_at_once_and_the_lease_expires(
    producer: Basket, effects: Effects, spawn
) -> None:
    worker = spawn("--concurrency", "1", "--grace-period", "30", "--visibility-timeout", "1")
    ref = producer.enqueue("slow", args=[30.0])
    wait_for(lambda: effects.events(ref.id, "start"), 20, "the task to start")
    worker.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "stopping gracefully" in worker.log(), 10, "the first signal")
    worker.proc.send_signal(signal.SIGINT)
    assert worker.proc.wait(10) != 0
    spawn("--concurrency", "1", "--visibility-timeout", "1")
    wait_for(lambda: len(effects.events(ref.id, "start")) == 2, 30, "a rescue after expiry")
