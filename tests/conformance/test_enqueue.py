"""Enqueueing: what is stored, when it becomes due, uniqueness, batches, transactions."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from taskbasket import Basket, ConfigurationError, State, UnsupportedOperationError
from taskbasket.backends.base import ClaimParams, NewTask
from tests.stores import factory


def claim(basket: Basket, limit: int = 10, names: list[str] | None = None,
          queues: list[str] | None = None, lease: float = 30.0):  # type: ignore[no-untyped-def]
    return basket.backend.tasks_claim(ClaimParams(
        worker_id="test", names=names or sorted(basket.registry), limit=limit,
        lease_seconds=lease, queues=queues,
    ))


@pytest.mark.needs("task_records")
def test_enqueue_stores_the_call(basket: Basket) -> None:
    @basket.task(queue="emails", priority=5, max_attempts=8, timeout=30)
    def send_email(to: str, subject: str) -> None: ...

    ref = send_email.enqueue("a@b.c", subject="hi")
    assert ref.created
    task = basket.get(ref.id)
    assert task is not None
    assert task.state == "queued" and task.state is State.QUEUED
    assert (task.name, task.queue, task.priority) == ("send_email", "emails", 5)
    assert (task.attempts, task.max_attempts, task.timeout) == (0, 8, 30.0)
    assert task.args == ["a@b.c"] and task.kwargs == {"subject": "hi"}
    assert task.last_error is None and task.finished_at is None
    assert task.created_at.tzinfo is not None
    assert abs((task.created_at - datetime.now(UTC)).total_seconds()) < 5


@pytest.mark.needs("task_records")
def test_get_unknown_id_is_none(basket: Basket) -> None:
    assert basket.get("01234567-89ab-7def-8123-456789abcdef") is None


@pytest.mark.needs("task_records")
def test_delay_and_run_at_schedule(basket: Basket) -> None:
    @basket.task
    def job() -> None: ...

    later = job.options(delay=3600).enqueue()
    at = job.options(run_at=datetime.now(UTC) + timedelta(hours=2)).enqueue()
    now = job.options(delay=0).enqueue()
    assert basket.get(later.id).state == "scheduled"  # type: ignore[union-attr]
    assert basket.get(at.id).state == "scheduled"  # type: ignore[union-attr]
    run_at = basket.get(at.id).run_at  # type: ignore[union-attr]
    assert abs((run_at - (datetime.now(UTC) + timedelta(hours=2))).total_seconds()) < 5
    claimed = claim(basket)
    assert [t.id for t in claimed] == [now.id]


def test_past_run_at_is_due_now(basket: Basket) -> None:
    @basket.task
    def job() -> None: ...

    ref = job.options(run_at=datetime.now(UTC) - timedelta(minutes=5)).enqueue()
    assert [t.id for t in claim(basket)] == [ref.id]


@pytest.mark.needs("priority")
def test_claim_order_priority_then_run_at_then_age(basket: Basket) -> None:
    @basket.task
    def job(n: int) -> None: ...

    base = datetime.now(UTC) - timedelta(minutes=10)
    low_old = job.options(priority=0, run_at=base).enqueue(1)
    high = job.options(priority=9).enqueue(2)
    low_older = job.options(priority=0, run_at=base - timedelta(minutes=1)).enqueue(3)
    mid_a = job.options(priority=5).enqueue(4)
    mid_b = job.options(priority=5).enqueue(5)
    order = [t.id for t in claim(basket, limit=2)] + [t.id for t in claim(basket, limit=10)]
    assert order == [high.id, mid_a.id, mid_b.id, low_older.id, low_old.id]


@pytest.mark.needs("task_records")
def test_claim_only_known_names_and_given_queues(basket: Basket) -> None:
    @basket.task(queue="a")
    def in_a() -> None: ...

    @basket.task(queue="b")
    def in_b() -> None: ...

    stranger = basket.enqueue("not_registered_here", args=[1], strict=False)
    a = in_a.enqueue()
    b = in_b.enqueue()
    assert [t.id for t in claim(basket, queues=["b"])] == [b.id]
    assert [t.id for t in claim(basket)] == [a.id]
    assert basket.get(stranger.id).state == "queued"  # type: ignore[union-attr]
    assert basket.unknown_names() == {"not_registered_here": 1}
    assert [t.id for t in claim(basket, names=["not_registered_here"])] == [stranger.id]


@pytest.mark.needs("unique_keys", "task_records")
def test_unique_key_returns_the_existing_task(basket: Basket) -> None:
    @basket.task
    def welcome(user: int) -> None: ...

    first = welcome.options(unique_key="welcome:42").enqueue(42)
    second = welcome.options(unique_key="welcome:42").enqueue(42)
    other = welcome.options(unique_key="welcome:43").enqueue(43)
    assert first.created and not second.created and other.created
    assert second.id == first.id
    assert basket.count(name="welcome") == 2
    # once the task is final, the key is free again
    [claimed] = claim(basket, limit=1)
    assert claimed.id == first.id
    from taskbasket.backends.base import Outcome, OutcomeKind

    assert basket.backend.tasks_finish([Outcome(claimed.lease, OutcomeKind.SUCCEEDED)]) == [True]
    third = welcome.options(unique_key="welcome:42").enqueue(42)
    assert third.created and third.id != first.id


@pytest.mark.needs("unique_keys")
def test_unique_key_holds_while_running(basket: Basket) -> None:
    @basket.task
    def job() -> None: ...

    first = job.options(unique_key="k").enqueue()
    claim(basket)
    again = job.options(unique_key="k").enqueue()
    assert again.id == first.id and not again.created


@pytest.mark.needs("task_records")
def test_enqueue_many_is_one_batch(basket: Basket) -> None:
    @basket.task
    def send(to: str) -> None: ...

    refs = send.enqueue_many([("a@b.c",), ("d@e.f",), {"to": "g@h.i"}, (["x"], {})])
    assert len({r.id for r in refs}) == 4
    stored = [basket.get(r.id) for r in refs]
    assert [(t.args, t.kwargs) for t in stored if t] == [
        (["a@b.c"], {}), (["d@e.f"], {}), ([], {"to": "g@h.i"}), (["x"], {}),
    ]


@pytest.mark.needs("task_records")
def test_enqueue_many_stores_nothing_if_one_call_is_bad(basket: Basket) -> None:
    @basket.task
    def send(to: object) -> None: ...

    with pytest.raises(TypeError, match=r"args\[0\]"):
        send.enqueue_many([("ok",), (object(),)])
    assert basket.count() == 0


@pytest.mark.needs("task_records")
def test_enqueue_by_name_uses_registered_defaults(basket: Basket) -> None:
    @basket.task(queue="emails", priority=3)
    def send_email(to: str, subject: str) -> None: ...

    ref = basket.enqueue("send_email", args=["a@b.c"], kwargs={"subject": "hi"}, delay=5)
    task = basket.get(ref.id)
    assert task is not None
    assert (task.queue, task.priority, task.state) == ("emails", 3, State.SCHEDULED)
    assert (task.args, task.kwargs) == (["a@b.c"], {"subject": "hi"})


@pytest.mark.needs("task_records")
def test_enqueue_async(basket: Basket) -> None:
    @basket.task
    async def refresh(feed_id: int) -> None: ...

    async def main() -> list[str]:
        refs = await asyncio.gather(*(refresh.enqueue_async(i) for i in range(5)))
        return [r.id for r in refs]

    ids = asyncio.run(main())
    assert sorted(t.args[0] for t in basket.list(limit=10)) == [0, 1, 2, 3, 4]
    assert len(set(ids)) == 5


@pytest.mark.needs("task_records")
def test_options_chain_and_unknown_option(basket: Basket) -> None:
    @basket.task
    def job() -> None: ...

    ref = job.options(queue="bulk").options(priority=9, max_attempts=3).enqueue()
    task = basket.get(ref.id)
    assert task is not None and (task.queue, task.priority, task.max_attempts) == ("bulk", 9, 3)
    with pytest.raises(ConfigurationError, match="did you mean 'priority'"):
        job.options(priorty=1)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"delay": -1}, "delay must be >= 0"),
        ({"delay": float("nan")}, "finite"),
        ({"priority": 10**6}, "out of range"),
        ({"priority": "high"}, "must be an int"),
        ({"max_attempts": 0}, "max_attempts must be an int >= 1"),
        ({"timeout": 0}, "timeout must be > 0"),
        ({"timeout": -5}, "timeout must be > 0"),
        ({"run_at": datetime(2030, 1, 1)}, "no time zone"),
        ({"delay": 5, "run_at": datetime.now(UTC)}, "either delay or run_at"),
        ({"queue": ""}, "queue name must be a non-empty str"),
        ({"unique_key": ""}, "unique_key must be a non-empty str"),
    ],
)
@pytest.mark.needs("task_records")
def test_bad_options_are_refused_and_store_nothing(
    basket: Basket, options: dict[str, object], match: str
) -> None:
    @basket.task
    def job() -> None: ...

    with pytest.raises(ConfigurationError, match=match):
        job.options(**options).enqueue()
    assert basket.count() == 0


@pytest.mark.needs("task_records")
def test_unserialisable_argument_names_it(basket: Basket) -> None:
    @basket.task
    def job(*args: object, **kwargs: object) -> None: ...

    with pytest.raises(TypeError, match=r"kwargs\['when'\].*datetime"):
        job.enqueue(1, when=datetime.now(UTC))
    with pytest.raises(TypeError, match=r"args\[1\]\[0\].*nan"):
        job.enqueue(1, [float("nan")])
    with pytest.raises(TypeError, match="surrogate"):
        job.enqueue("\udcff")
    assert basket.count() == 0


@pytest.mark.needs("task_records")
def test_oversized_payload_is_refused(store_url: str) -> None:
    basket = Basket(store_url, max_payload_bytes=1000)

    @basket.task
    def job(blob: str) -> None: ...

    with pytest.raises(ConfigurationError, match="over the limit of 1000"):
        job.enqueue("x" * 2000)
    job.enqueue("x" * 10)
    assert basket.count() == 1
    basket.close()


@pytest.mark.needs("task_records")
def test_unicode_and_nested_arguments_round_trip(basket: Basket) -> None:
    @basket.task
    def job(*args: object, **kwargs: object) -> None: ...

    value = {"emoji": "🧺", "nested": [[1, 2.5, None, True], {"k": "ü"}], "big": 2**62}
    ref = job.enqueue(value, name="Zoë")
    task = basket.get(ref.id)
    assert task is not None and task.args == [value] and task.kwargs == {"name": "Zoë"}


@pytest.mark.lacks("transactional_enqueue")
def test_enqueue_on_the_application_connection_is_refused(basket: Basket) -> None:
    @basket.task
    def nope() -> None: ...

    with pytest.raises(UnsupportedOperationError, match="transaction"):
        nope.options(connection=object()).enqueue()


@pytest.mark.needs("transactional_enqueue", "task_records")
def test_transactional_enqueue(basket: Basket, store_name: str) -> None:
    connect = getattr(factory(store_name), "app_connection", None)
    assert connect is not None, f"tests/stores/{store_name}.py needs an app_connection helper"

    @basket.task
    def job(n: int) -> None: ...

    basket.migrate()
    conn = connect(basket.url)
    try:
        rolled_back = job.options(connection=conn).enqueue(1)
        assert basket.get(rolled_back.id) is None  # not visible before commit
        conn.rollback()
        committed = job.options(connection=conn).enqueue(2)
        conn.commit()
    finally:
        conn.close()
    assert basket.get(rolled_back.id) is None
    task = basket.get(committed.id)
    assert task is not None and task.args == [2]
    assert basket.count() == 1


@pytest.mark.needs("task_records")
def test_corrupt_payload_is_reported_not_hidden(basket: Basket) -> None:
    ref = basket.backend.tasks_insert(
        [NewTask(id="01a20000-0000-7000-8000-000000000001", name="job", queue="default",
                 payload="{not json")]
    )[0]
    task = basket.get(ref.id)
    assert task is not None and task.payload_error is not None
    assert "cannot be decoded" in task.payload_error
    assert json.dumps(task.args) == "[]"
