"""Progress (#19): ``current_task().progress(done, total, note)`` from a handler is stored
with the task, fenced by the lease and coalesced (a tight loop costs the store a few
writes a second, and the last report is always kept), and read as ``Task.progress``."""

from __future__ import annotations

import asyncio
import threading

import pytest

from taskbasket import Basket, TaskProgress, current_task
from taskbasket.backends.base import ProgressParams
from taskbasket.worker.progress import ProgressWriter
from tests.conformance.test_enqueue import claim
from tests.helpers import maintain, wait_for


@pytest.mark.needs("results")
def test_progress_of_sync_and_async_handlers_keeps_the_last_report(basket: Basket) -> None:
    @basket.task
    def count(n: int) -> None:
        ctx = current_task()
        assert ctx is not None
        for i in range(n):
            ctx.progress(i + 1, n, note=f"item {i + 1}")

    @basket.task
    async def fetch() -> None:
        ctx = current_task()
        assert ctx is not None
        ctx.progress(3, note="pages")
        await asyncio.sleep(0)

    one, two = count.enqueue(5000), fetch.enqueue()
    basket.worker(concurrency=2, visibility_timeout=5).run_until_empty(timeout=30)
    task = basket.get(one.id)
    assert task is not None and isinstance(task.progress, TaskProgress)
    assert (task.progress.done, task.progress.total, task.progress.note) == (
        5000, 5000, "item 5000")
    assert task.progress.fraction == 1.0 and task.progress.updated_at.tzinfo is not None
    other = basket.get(two.id)
    assert other is not None and other.progress is not None
    assert (other.progress.done, other.progress.total, other.progress.note) == (3, None, "pages")
    assert other.progress.fraction is None


@pytest.mark.needs("results")
def test_progress_is_visible_while_the_task_runs(basket: Basket) -> None:
    gate, reported = threading.Event(), threading.Event()

    @basket.task
    def long() -> None:
        ctx = current_task()
        assert ctx is not None
        ctx.progress(1, 4, "first")
        reported.set()
        gate.wait(10)

    ref = long.enqueue()
    worker = basket.worker(concurrency=1, visibility_timeout=10)
    worker.start()
    try:
        assert reported.wait(10)
        wait_for(lambda: (t := basket.get(ref.id)) is not None and t.progress is not None,
                 10, "progress to be written")
        task = basket.get(ref.id)
        assert task is not None and task.progress is not None and task.progress.note == "first"
        assert task.progress.fraction == 0.25
        [listed] = basket.list(with_arguments=False)
        assert listed.progress is not None and listed.progress.done == 1
    finally:
        gate.set()
        worker.stop()


@pytest.mark.needs("results")
def test_a_tight_loop_writes_a_few_reports_a_second(basket: Basket) -> None:
    written: list[ProgressParams] = []
    backend = basket.backend

    class Counting:
        def tasks_progress(self, params: ProgressParams) -> bool:
            written.append(params)
            return backend.tasks_progress(params)

    @basket.task
    def job() -> None: ...

    job.enqueue()
    [held] = claim(basket)
    writer = ProgressWriter(Counting(), interval=0.25)  # type: ignore[arg-type]
    for i in range(20_000):
        writer.report(held.lease, i, 20_000)
    writer.flush(held.lease)
    writer.close()
    assert 1 <= len(written) <= 4
    task = basket.get(held.id)
    assert task is not None and task.progress is not None and task.progress.done == 19_999


@pytest.mark.needs("results", "lease_expiry")
def test_progress_is_fenced_by_the_lease(basket: Basket) -> None:
    @basket.task(max_attempts=3)
    def job() -> None: ...

    ref = job.enqueue()
    [first] = claim(basket, lease=0.3)
    wait_for(lambda: maintain(basket.backend).requeued, 10, "lease to expire")
    [second] = claim(basket, lease=30)
    stale = ProgressParams(first.lease, '{"done":9,"total":null,"note":null,"updated_at":0}')
    assert basket.backend.tasks_progress(stale) is False
    assert basket.get(ref.id).progress is None  # type: ignore[union-attr]
    fresh = ProgressParams(second.lease, '{"done":2,"total":3,"note":"x","updated_at":0}')
    assert basket.backend.tasks_progress(fresh) is True
    assert basket.get(ref.id).progress.done == 2  # type: ignore[union-attr]


@pytest.mark.needs("results")
def test_a_malformed_report_raises_in_the_handler(basket: Basket) -> None:
    @basket.task(max_attempts=1)
    def job() -> None:
        ctx = current_task()
        assert ctx is not None
        ctx.progress(float("nan"))

    ref = job.enqueue()
    basket.worker(concurrency=1, visibility_timeout=5).run_until_empty(timeout=30)
    task = basket.get(ref.id)
    assert task is not None and "finite number" in (task.last_error or "")
