"""``basket.explain(task_id)`` on every store: one test per reason, in the words a person
reads and the fields a program reads."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest

from taskbasket import Basket, ExponentialBackoff, State
from taskbasket.explanation import REASONS, explain, waiting_for_a_slot
from tests.helpers import wait_for

pytestmark = pytest.mark.needs("task_records", "worker_registry")

VT = 1.5


def state_of(basket: Basket, task_id: str) -> State | None:
    task = basket.get(task_id, with_arguments=False)
    return None if task is None else task.state


def test_a_scheduled_task_names_its_time(basket: Basket) -> None:
    @basket.task
    def later() -> None: ...

    ref = later.options(delay=3600).enqueue()
    answer = basket.explain(ref.id)
    task = basket.get(ref.id)
    assert task is not None
    assert (answer.kind, answer.state, answer.at) == ("scheduled", State.SCHEDULED, task.run_at)
    assert str(answer).startswith("It is scheduled for ") and "UTC (in " in str(answer)
    assert str(answer) == answer.reason and answer.as_dict()["kind"] == "scheduled"


def test_a_retrying_task_names_the_failed_attempt_and_its_retry_time(basket: Basket) -> None:
    @basket.task(max_attempts=3, backoff=ExponentialBackoff(base=3600, jitter=0))
    def flaky() -> None:
        raise ValueError("no such mailbox")

    ref = flaky.enqueue()
    with basket.worker(visibility_timeout=VT):
        wait_for(lambda: state_of(basket, ref.id) is State.RETRYING, 20, "a retry")
    answer = basket.explain(ref.id)
    assert (answer.kind, answer.state) == ("retrying", State.RETRYING)
    assert "Attempt 1 of 3 failed (ValueError: no such mailbox)" in str(answer)
    assert "waiting for retry until" in str(answer)


def test_with_no_worker_at_all_it_says_so(basket: Basket) -> None:
    @basket.task
    def job() -> None: ...

    answer = basket.explain(job.enqueue().id)
    assert (answer.kind, answer.served_names) == ("no_live_worker", ())
    assert "No live worker is registered" in str(answer)


def test_no_live_worker_has_its_handler_names_what_they_serve(basket: Basket) -> None:
    @basket.task
    def resize() -> None: ...

    @basket.task(queue="mail")
    def send() -> None: ...

    orphan = basket.enqueue("transcode", strict=False)
    with basket.worker(visibility_timeout=VT, queues=["default"]):
        wait_for(basket.workers, 10, "the worker's row")
        answer = basket.explain(orphan.id)
        off_queue = basket.explain(send.enqueue().id)
    assert (answer.kind, answer.served_names) == ("no_live_worker", ("resize", "send"))
    assert "No live worker has a handler for 'transcode'" in str(answer)
    assert "serve: resize, send" in str(answer)
    assert off_queue.kind == "no_live_worker"
    assert "do not read queue 'mail' (they read: default)" in str(off_queue)


def test_a_running_task_names_its_worker_and_a_gone_one(basket: Basket) -> None:
    release = threading.Event()

    @basket.task
    def hold() -> None:
        release.wait(20)

    ref = hold.enqueue()
    worker = basket.worker(visibility_timeout=VT)
    with worker:
        wait_for(lambda: state_of(basket, ref.id) is State.RUNNING, 20, "the task to run")
        wait_for(basket.workers, 10, "the worker's row")
        answer = basket.explain(ref.id)
        later = basket.backend.now() + timedelta(seconds=10)
        gone = explain(basket.backend, ref.id, now=later)
        release.set()
    assert (answer.kind, answer.worker_id) == ("running", worker.worker_id)
    assert f"It is running on worker {worker.worker_id} (host " in str(answer)
    assert "its lease runs until" in str(answer)
    assert gone.kind == "running" and "that worker is gone" in str(gone)


def test_a_queued_task_behind_busy_slots_waits_its_turn(basket: Basket) -> None:
    release = threading.Event()

    @basket.task
    def hold() -> None:
        release.wait(20)

    first = hold.enqueue()
    worker = basket.worker(visibility_timeout=VT, concurrency=1)
    with worker:
        wait_for(lambda: state_of(basket, first.id) is State.RUNNING, 20, "the first to run")
        second = hold.enqueue()
        wait_for(lambda: basket.workers() and basket.workers()[0].busy == 1, 10, "a busy row")
        answer = basket.explain(second.id)
        release.set()
    assert (answer.kind, answer.state) == ("waiting_for_a_slot", State.QUEUED)
    assert "1 live worker(s) serve it, 1 of their 1 slots busy" in str(answer)
    assert answer.details == {"serving_workers": 1}


def test_a_final_task_says_its_state_and_when(basket: Basket) -> None:
    @basket.task(max_attempts=1)
    def broken() -> None:
        raise RuntimeError("disk full")

    @basket.task
    def fine() -> None: ...

    bad, good = broken.enqueue(), fine.enqueue()
    basket.worker(visibility_timeout=VT).run_until_empty(timeout=30)
    failed, succeeded = basket.explain(bad.id), basket.explain(good.id)
    task = basket.get(good.id)
    assert task is not None
    assert (succeeded.kind, succeeded.state, succeeded.at) == (
        "final", State.SUCCEEDED, task.finished_at)
    assert str(succeeded).startswith("It is final: succeeded at ")
    assert failed.state is State.FAILED and "the last error: RuntimeError: disk full" in str(
        failed)


def test_an_unknown_id_is_explained_not_raised(basket: Basket) -> None:
    task_id = str(uuid.uuid4())
    answer = basket.explain(task_id)
    assert (answer.task_id, answer.state, answer.kind) == (task_id, None, "unknown_task")
    assert f"No task {task_id} is stored" in str(answer)


def test_the_fallback_reason_is_last() -> None:
    assert REASONS[-1] is waiting_for_a_slot
