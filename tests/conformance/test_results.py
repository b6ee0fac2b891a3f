"""Results (#19): a handler's return value is stored with its task in the step that records
the success (only by the current lease holder), read back as ``Task.result``, and waited
for with ``basket.result`` / ``ref.result`` (pushed where the store can push). Buses keep
no results and say so."""

from __future__ import annotations

import asyncio
import pickle
import threading
import time

import pytest

from taskbasket import (
    Basket,
    Fail,
    ResultTimeout,
    State,
    TaskFailed,
    UnsupportedOperationError,
)
from taskbasket.backends.base import Outcome, OutcomeKind
from tests.conformance.test_enqueue import claim
from tests.helpers import maintain, wait_for


@pytest.mark.needs("results")
def test_a_result_is_stored_with_the_success_and_read_back(basket: Basket) -> None:
    @basket.task
    def add(x: int, y: int) -> dict[str, object]:
        return {"sum": x + y, "parts": [x, y], "note": "ünïcode"}

    @basket.task
    def nothing() -> None: ...

    ref, empty = add.enqueue(2, 3), nothing.enqueue()
    basket.worker(concurrency=2, visibility_timeout=5).run_until_empty(timeout=30)
    task = basket.get(ref.id)
    assert task is not None and task.state == State.SUCCEEDED
    assert task.result == {"sum": 5, "parts": [2, 3], "note": "ünïcode"}
    assert basket.get(empty.id).result is None  # type: ignore[union-attr]
    assert ref.result(timeout=5) == task.result and basket.result(ref.id, timeout=5) == task.result
    assert basket.result(empty.id, timeout=5) is None
    copied = pickle.loads(pickle.dumps(ref))  # the ref travels without its basket
    assert copied == ref and copied.basket is None and repr(copied) == repr(ref)
    # a listing that reads no arguments need not read results either
    [listed] = basket.list(name="add", with_arguments=False)
    assert listed.state == State.SUCCEEDED


@pytest.mark.needs("results", "lease_expiry")
def test_a_stale_attempt_never_writes_a_result(basket: Basket) -> None:
    @basket.task(max_attempts=3)
    def job() -> int:
        return 1

    ref = job.enqueue()
    [first] = claim(basket, lease=0.3)
    wait_for(lambda: maintain(basket.backend).requeued, 10, "lease to expire")
    [second] = claim(basket, lease=30)
    stale = Outcome(first.lease, OutcomeKind.SUCCEEDED, result='"stale"')
    assert basket.backend.tasks_finish([stale]) == [False]
    task = basket.get(ref.id)
    assert task is not None and task.state == State.RUNNING and task.result is None
    fresh = Outcome(second.lease, OutcomeKind.SUCCEEDED, result='"fresh"')
    assert basket.backend.tasks_finish([fresh]) == [True]
    assert basket.get(ref.id).result == "fresh"  # type: ignore[union-attr]
    assert basket.backend.tasks_finish([stale]) == [False]
    assert basket.get(ref.id).result == "fresh"  # type: ignore[union-attr]


@pytest.mark.needs("results")
def test_results_in_a_mixed_batch(basket: Basket) -> None:
    @basket.task
    def job(n: int) -> None: ...

    job.enqueue_many([(i,) for i in range(4)])
    a, b, c, d = claim(basket, limit=4)
    assert basket.backend.tasks_finish([
        Outcome(a.lease, OutcomeKind.SUCCEEDED, result="[1]"),
        Outcome(b.lease, OutcomeKind.SUCCEEDED),
        Outcome(c.lease, OutcomeKind.FAILED, error="boom"),
        Outcome(d.lease, OutcomeKind.SUCCEEDED, result='{"big": "' + "x" * 70_000 + '"}'),
    ]) == [True] * 4
    assert basket.get(a.id).result == [1]  # type: ignore[union-attr]
    assert basket.get(b.id).result is None  # type: ignore[union-attr]
    assert basket.get(c.id).state == State.FAILED  # type: ignore[union-attr]
    assert basket.get(d.id).result == {"big": "x" * 70_000}  # type: ignore[union-attr]


@pytest.mark.needs("results")
def test_an_unstorable_result_fails_the_task_at_once(store_url: str) -> None:
    basket = Basket(store_url, max_result_bytes=1000)
    try:
        @basket.task(max_attempts=5)
        def opaque() -> object:
            return object()

        @basket.task(max_attempts=5)
        def huge() -> str:
            return "x" * 2000

        one, two = opaque.enqueue(), huge.enqueue()
        basket.worker(concurrency=2, visibility_timeout=5).run_until_empty(timeout=30)
        for ref, words in ((one, "of type object"), (two, "over the limit of 1000")):
            task = basket.get(ref.id)
            assert task is not None and task.state == State.FAILED and task.attempts == 1
            assert words in (task.last_error or "") and "max_result_bytes" not in words
        assert "max_result_bytes" in (basket.get(two.id).last_error or "")  # type: ignore[union-attr]
    finally:
        basket.close()


@pytest.mark.needs("results")
def test_a_delete_on_success_task_keeps_no_result(basket: Basket) -> None:
    @basket.task(delete_on_success=True)
    def job() -> int:
        return 7

    ref = job.enqueue()
    basket.worker(concurrency=1, visibility_timeout=5).run_until_empty(timeout=30)
    assert basket.get(ref.id) is None
    with pytest.raises(LookupError):
        basket.result(ref.id, timeout=1)


@pytest.mark.needs("results")
def test_waiting_for_a_result_with_a_worker_running(basket: Basket) -> None:
    gate = threading.Event()

    @basket.task
    def slow(n: int) -> int:
        gate.wait(10)
        return n * 2

    ref = slow.enqueue(21)
    worker = basket.worker(concurrency=2, visibility_timeout=10)
    worker.start()
    try:
        with pytest.raises(ResultTimeout) as raised:
            ref.result(timeout=0.2)
        assert isinstance(raised.value, TimeoutError)
        threading.Timer(0.2, gate.set).start()
        started = time.monotonic()
        assert ref.result(timeout=20) == 42
        assert time.monotonic() - started < 10
        assert asyncio.run(ref.result_async(timeout=5)) == 42
        second = slow.enqueue(5)
        assert asyncio.run(basket.result_async(second.id, timeout=20)) == 10
    finally:
        gate.set()
        worker.stop()


@pytest.mark.needs("results")
def test_failed_and_cancelled_tasks_raise_task_failed(basket: Basket) -> None:
    @basket.task(max_attempts=3)
    def refuse() -> None:
        raise Fail("no such mailbox")

    @basket.task
    def later() -> None: ...

    failed = refuse.enqueue()
    basket.worker(concurrency=1, visibility_timeout=5).run_until_empty(timeout=30)
    with pytest.raises(TaskFailed) as raised:
        failed.result(timeout=5)
    assert raised.value.task_id == failed.id and raised.value.state == State.FAILED
    assert "no such mailbox" in (raised.value.last_error or "")
    cancelled = later.options(delay=3600).enqueue()
    threading.Timer(0.2, basket.cancel, args=(cancelled.id,)).start()
    with pytest.raises(TaskFailed) as raised:
        basket.result(cancelled.id, timeout=10)
    assert raised.value.state == State.CANCELLED and raised.value.last_error == "cancelled"


@pytest.mark.needs("results")
def test_an_unknown_id_raises_lookup_error(basket: Basket) -> None:
    with pytest.raises(LookupError):
        basket.result("01900000-0000-7000-8000-000000000000", timeout=1)


@pytest.mark.lacks("results")
def test_a_bus_cannot_keep_results(basket: Basket) -> None:
    @basket.task
    def job() -> int:
        return 1

    ref = job.enqueue()
    with pytest.raises(UnsupportedOperationError, match="cannot keep results"):
        ref.result(timeout=1)
    with pytest.raises(UnsupportedOperationError, match="cannot keep results"):
        asyncio.run(basket.result_async(ref.id, timeout=1))
