"""``@basket.task(delete_on_success=True)``: a success removes the task in the same fenced,
atomic step that records it, on every store; failures are kept as usual."""

from __future__ import annotations

import pytest

from taskbasket import Basket, ConfigurationError, Event, Fail, State
from taskbasket.backends.base import Lease, Outcome, OutcomeKind
from tests.conformance.test_enqueue import claim
from tests.helpers import maintain, wait_for

# outcomes are checked on the stored tasks
pytestmark = pytest.mark.needs("task_records")


def _success(lease: Lease) -> Outcome:
    return Outcome(lease, OutcomeKind.SUCCEEDED, delete_on_success=True)


@pytest.mark.needs("task_records")
def test_a_success_deletes_the_task_in_a_mixed_batch(basket: Basket) -> None:
    @basket.task(max_attempts=5)
    def job(n: int) -> None: ...

    refs = job.enqueue_many([(i,) for i in range(5)])
    a, b, c, d, e = claim(basket, limit=5)
    accepted = basket.backend.tasks_finish([
        _success(a.lease),
        Outcome(b.lease, OutcomeKind.SUCCEEDED),
        Outcome(c.lease, OutcomeKind.FAILED, error="boom"),
        _success(d.lease),
        Outcome(e.lease, OutcomeKind.RETRY, error="later", retry_delay=3600),
    ])
    assert accepted == [True] * 5
    assert basket.get(a.id) is None and basket.get(d.id) is None
    states = {ref.id: t.state for ref in refs if (t := basket.get(ref.id)) is not None}
    assert states == {b.id: State.SUCCEEDED, c.id: State.FAILED, e.id: State.RETRYING}
    assert basket.count() == 3 and basket.count(State.RUNNING) == 0
    counts = basket.counts_by_state()
    assert (counts[State.SUCCEEDED], counts[State.RUNNING], counts[State.FAILED]) == (1, 0, 1)


@pytest.mark.needs("task_records", "lease_expiry")
def test_a_stale_success_deletes_nothing(basket: Basket) -> None:
    @basket.task(max_attempts=3)
    def job() -> None: ...

    ref = job.enqueue()
    [first] = claim(basket, lease=0.3)
    wait_for(lambda: maintain(basket.backend).requeued, 10, "lease to expire")
    [second] = claim(basket, lease=30)
    # the first holder comes back from a pause with a success: it is refused
    assert basket.backend.tasks_finish([_success(first.lease)]) == [False]
    task = basket.get(ref.id)
    assert task is not None and task.state == "running" and task.attempts == 2
    assert basket.backend.tasks_finish([_success(second.lease)]) == [True]
    assert basket.get(ref.id) is None
    # a cancelled attempt's success deletes nothing either
    other = job.enqueue()
    [held] = claim(basket)
    assert basket.cancel(other.id) == 1
    assert basket.backend.tasks_finish([_success(held.lease)]) == [False]
    assert basket.get(other.id).state == "cancelled"  # type: ignore[union-attr]


@pytest.mark.needs("task_records", "unique_keys")
def test_a_deleted_task_frees_its_unique_key(basket: Basket) -> None:
    @basket.task
    def job() -> None: ...

    ref = job.options(unique_key="report:1").enqueue()
    assert not job.options(unique_key="report:1").enqueue().created
    [held] = claim(basket)
    assert basket.backend.tasks_finish([_success(held.lease)]) == [True]
    again = job.options(unique_key="report:1").enqueue()
    assert again.created and again.id != ref.id


@pytest.mark.needs("task_records")
def test_the_worker_deletes_succeeded_tasks_and_keeps_failed_ones(basket: Basket) -> None:
    seen: list[str] = []

    @basket.task(delete_on_success=True)
    def tidy(fail: bool) -> None:
        if fail:
            raise Fail("kept for an operator")

    @basket.task
    def kept() -> None: ...

    @basket.on("succeeded")
    def record(event: Event) -> None:
        seen.append(event.task_id)

    gone = tidy.enqueue(False)
    failed = tidy.enqueue(True)
    stays = kept.enqueue()
    basket.worker(concurrency=2, visibility_timeout=5).run_until_empty(30)
    assert basket.get(gone.id) is None
    task = basket.get(failed.id)
    assert task is not None and task.state == "failed" and "kept for" in (task.last_error or "")
    assert basket.get(stays.id).state == "succeeded"  # type: ignore[union-attr]
    assert sorted(seen) == sorted([gone.id, stays.id])  # the hook still hears of it
    assert basket.count() == 2


def test_delete_on_success_must_be_a_bool(basket: Basket) -> None:
    with pytest.raises(ConfigurationError, match="delete_on_success must be True or False"):
        basket.task(name="odd", delete_on_success="yes")(print)  # type: ignore[call-overload]
