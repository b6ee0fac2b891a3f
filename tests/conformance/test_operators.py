"""What operators do: count, list and page, retry, cancel, delete, purge, clean."""

from __future__ import annotations

import pytest

from taskbasket import Basket, ConfigurationError, State
from taskbasket.backends.base import Outcome, OutcomeKind
from tests.conformance.test_enqueue import claim
from tests.helpers import wait_for

pytestmark = pytest.mark.needs("task_records")


def _fail(basket: Basket, count: int) -> list[str]:
    ids = []
    for task in claim(basket, limit=count):
        basket.backend.tasks_finish([Outcome(task.lease, OutcomeKind.FAILED, error="x")])
        ids.append(task.id)
    return ids


def test_count_and_stats_by_state_queue_and_name(basket: Basket) -> None:
    @basket.task(queue="emails")
    def send() -> None: ...

    @basket.task(queue="reports")
    def report() -> None: ...

    send.enqueue_many([()] * 3)
    report.enqueue()
    report.options(delay=3600).enqueue()
    assert basket.count() == 5
    assert basket.count("queued") == 4
    assert basket.count(["queued", "scheduled"], queue="reports") == 2
    assert basket.count(name="send") == 3
    assert basket.count(state=State.SCHEDULED, queue="reports", name="report") == 1
    stats = basket.stats()
    assert stats[("emails", State.QUEUED)] == 3
    assert stats[("reports", State.SCHEDULED)] == 1
    by_state = basket.counts_by_state()
    assert by_state[State.QUEUED] == 4 and by_state[State.FAILED] == 0
    with pytest.raises(ConfigurationError, match="unknown state 'done'"):
        basket.count("done")


def test_list_pages_newest_first(basket: Basket) -> None:
    @basket.task
    def job(n: int) -> None: ...

    refs = [job.enqueue(i) for i in range(7)]
    first = basket.list(limit=3)
    assert [t.args[0] for t in first] == [6, 5, 4]
    second = basket.list(limit=3, before=first[-1].id)
    assert [t.args[0] for t in second] == [3, 2, 1]
    third = basket.list(limit=3, before=second[-1].id)
    assert [t.args[0] for t in third] == [0]
    assert {t.id for t in first + second + third} == {r.id for r in refs}
    _fail(basket, 2)
    assert len(basket.list(state="failed")) == 2
    assert all(t.state == "failed" for t in basket.list("failed", limit=50))


@pytest.mark.needs("task_records")
@pytest.mark.parametrize("cursor", ["garbage", "", "01a2323f", 42])
def test_a_cursor_that_is_not_a_task_id_is_refused(basket: Basket, cursor: object) -> None:
    basket.enqueue("job")
    with pytest.raises(ConfigurationError, match="before must be a task id"):
        basket.list(before=cursor)  # type: ignore[arg-type]


def test_a_cursor_in_any_uuid_spelling_pages_the_same(basket: Basket) -> None:
    refs = [basket.enqueue("job") for _ in range(3)]
    newest_first = [r.id for r in reversed(refs)]
    assert [t.id for t in basket.list(before=newest_first[0].upper())] == newest_first[1:]


def test_retry_one_task_and_every_failed_task_of_a_queue(basket: Basket) -> None:
    @basket.task(queue="q1", max_attempts=1)
    def a() -> None: ...

    @basket.task(queue="q2", max_attempts=1)
    def b() -> None: ...

    a.enqueue_many([()] * 2)
    b.enqueue()
    failed = _fail(basket, 3)
    assert basket.count("failed") == 3
    assert basket.retry(failed[0]) == 1
    task = basket.get(failed[0])
    assert task is not None and task.state == "queued" and task.attempts == 0
    assert task.last_error == "x"  # history is kept
    assert basket.retry(queue="q1") == 1  # the other failed task of q1
    assert basket.count("failed") == 1 and basket.count("failed", queue="q2") == 1
    assert basket.retry(name="b") == 1
    assert basket.count("failed") == 0
    assert basket.retry(queue="q1") == 0  # nothing failed is left


@pytest.mark.needs("unique_keys")
def test_retry_skips_a_task_whose_unique_key_is_taken_again(basket: Basket) -> None:
    @basket.task(max_attempts=1)
    def job() -> None: ...

    job.options(unique_key="k").enqueue()
    [old] = _fail(basket, 1)
    new = job.options(unique_key="k").enqueue()
    assert new.created
    assert basket.retry(old) == 0
    assert basket.get(old).state == "failed"  # type: ignore[union-attr]


def test_cancel_pending_tasks(basket: Basket) -> None:
    @basket.task(queue="bulk")
    def job(n: int) -> None: ...

    refs = job.enqueue_many([(i,) for i in range(3)])
    later = job.options(delay=3600).enqueue(9)
    assert basket.cancel(refs[0].id) == 1
    assert basket.cancel(queue="bulk") == 3
    assert basket.count("cancelled") == 4
    assert basket.get(later.id).finished_at is not None  # type: ignore[union-attr]
    assert claim(basket) == []
    assert basket.cancel(queue="bulk") == 0  # final tasks stay as they are
    with pytest.raises(ConfigurationError, match="cancel needs"):
        basket.cancel()


def test_delete_and_purge(basket: Basket) -> None:
    @basket.task(queue="a")
    def job(n: int) -> None: ...

    refs = job.enqueue_many([(i,) for i in range(4)])
    job.options(queue="b").enqueue(5)
    assert basket.delete(refs[0].id) == 1
    assert basket.get(refs[0].id) is None
    assert basket.delete([refs[1].id, "01a20000-0000-7000-8000-00000000ffff"]) == 1
    assert basket.purge(queue="a") == 2
    assert basket.count() == 1
    assert basket.purge() == 1
    assert basket.count() == 0


def test_clean_removes_only_old_final_tasks(basket: Basket) -> None:
    @basket.task(max_attempts=1)
    def job(n: int) -> None: ...

    job.enqueue_many([(i,) for i in range(5)])
    claimed = claim(basket, limit=3)
    basket.backend.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in claimed])
    assert basket.clean(older_than="1h") == 0
    wait_for(lambda: basket.clean(older_than=0.05, batch_size=2) == 3, 10, "clean")
    assert basket.count() == 2 and basket.count("queued") == 2
    with pytest.raises(ConfigurationError, match="only final tasks"):
        basket.clean(older_than="1d", state="queued")
    with pytest.raises(ConfigurationError, match="cannot read duration 'a week' for older_than"):
        basket.clean(older_than="a week")
