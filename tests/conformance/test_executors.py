"""The three executors inside a worker: threads that scale, one event loop, child processes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from taskbasket import Basket
from tests.helpers import wait_for


@pytest.mark.needs("task_records")
def test_threads_grow_under_backlog_and_shrink_when_idle(basket: Basket) -> None:
    gate = threading.Event()

    @basket.task
    def blocked(n: int) -> None:
        gate.wait(20)

    blocked.enqueue_many([(i,) for i in range(6)])
    worker = basket.worker(concurrency=4, min_concurrency=1, idle_timeout=0.3,
                           poll_interval=0.05)
    worker.start()
    try:
        wait_for(lambda: worker.pool.size == 4 and worker.pool.busy == 4, 20, "growth to 4")
        assert basket.count("running") == 4  # lazy: it claimed only for its 4 slots
        assert basket.count("queued") == 2
        gate.set()
        wait_for(lambda: basket.count("succeeded") == 6, 20, "the backlog to drain")
        wait_for(lambda: worker.pool.size == 1, 20, "the pool to shrink back to 1")
    finally:
        gate.set()
        worker.stop()


@pytest.mark.needs("task_records")
def test_process_executor_kills_a_hung_task_and_runs_the_next(cpu_basket: Basket) -> None:
    hung = cpu_basket.enqueue("hang")
    worker = cpu_basket.worker(concurrency=1, processes=1, visibility_timeout=10)
    worker.start()
    try:
        wait_for(lambda: cpu_basket.get(hung.id).state == "failed",  # type: ignore[union-attr]
                 60, "the hung child to be killed at its timeout")
        assert worker.killed_children == 1
        task = cpu_basket.get(hung.id)
        assert task is not None and "TaskTimeout" in (task.last_error or "")
        after = cpu_basket.enqueue("crunch", args=[1])
        wait_for(lambda: cpu_basket.get(after.id).state == "succeeded",  # type: ignore[union-attr]
                 60, "the next task in a fresh child")
    finally:
        worker.stop()


@pytest.mark.needs("task_records")
def test_process_executor_carries_fail_errors_and_context(
    cpu_basket: Basket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TB_MARKER_DIR", str(tmp_path))
    refused = cpu_basket.enqueue("refuse")
    exploded = cpu_basket.enqueue("explode")
    marked = cpu_basket.enqueue("whoami", args=["marker"])
    cpu_basket.worker(concurrency=2, processes=2, visibility_timeout=10).run_until_empty(90)
    task = cpu_basket.get(refused.id)
    assert task is not None and task.state == "failed" and task.attempts == 1
    assert "not worth retrying" in (task.last_error or "")
    task = cpu_basket.get(exploded.id)
    assert task is not None and task.state == "failed"
    assert "KeyError" in (task.last_error or "") and "missing in the child" in task.last_error
    assert "cpuapp.py" in task.last_error  # the child's own traceback
    assert cpu_basket.get(marked.id).state == "succeeded"  # type: ignore[union-attr]
    assert int((tmp_path / "marker").read_text()) != os.getpid()


def test_process_handlers_must_be_importable(basket: Basket) -> None:
    from taskbasket import ConfigurationError

    with pytest.raises(ConfigurationError, match="module level"):
        @basket.task(executor="process")
        def local() -> None: ...


def test_executor_must_fit_the_handler(basket: Basket) -> None:
    from taskbasket import ConfigurationError

    with pytest.raises(ConfigurationError, match="async def"):
        basket.task(executor="async")(time.sleep)
    with pytest.raises(ConfigurationError, match="choose one of thread, async, process"):
        basket.task(executor="fiber")(time.sleep)


@pytest.mark.needs("task_records")
def test_process_executor_keeps_outcomes_right_after_a_huge_timeout(cpu_basket: Basket) -> None:
    """A timeout past a pipe's poll limit (2**31 ms) once desynchronised a slot: each task
    read the reply of the one before. Such a timeout can no longer be enqueued, but a row
    written before the bound (or a bus message) may still carry one."""
    from taskbasket.backends.base import NewTask
    from taskbasket.codec import encode_arguments
    from taskbasket.ids import new_task_ids

    huge, normal = 30 * 86400.0, 120.0
    calls = [("refuse", huge, []), ("crunch", normal, [0]), ("refuse", normal, [])]
    ids = new_task_ids(len(calls))
    cpu_basket.backend.tasks_insert([
        NewTask(id=task_id, name=name, queue="default", max_attempts=1, timeout=timeout,
                payload=encode_arguments(name, args, {}))
        for task_id, (name, timeout, args) in zip(ids, calls, strict=True)
    ])
    worker = cpu_basket.worker(concurrency=1, processes=1, visibility_timeout=10)
    worker.run_until_empty(90)
    tasks = [cpu_basket.get(task_id) for task_id in ids]
    assert [t.state if t else None for t in tasks] == ["failed", "succeeded", "failed"]
    for task in (tasks[0], tasks[2]):
        assert task is not None and "not worth retrying" in (task.last_error or "")
    assert worker.killed_children == 0


@pytest.mark.needs("results")
def test_process_executor_carries_results_back(cpu_basket: Basket) -> None:
    good = cpu_basket.enqueue("answer", [21])
    bad = cpu_basket.enqueue("unpicklable")
    cpu_basket.worker(concurrency=2, processes=2, visibility_timeout=10).run_until_empty(90)
    assert cpu_basket.result(good.id, timeout=5) == {"answer": 42}
    answered = cpu_basket.get(good.id)
    assert answered is not None and answered.progress is not None
    assert (answered.progress.done, answered.progress.total, answered.progress.note) == (
        2000, 2000, "done")  # the child's last report, through the parent
    task = cpu_basket.get(bad.id)
    assert task is not None and task.state == "failed" and task.attempts == 1
    assert "UnstorableResult" in (task.last_error or "")
