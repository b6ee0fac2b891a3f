"""``basket.explain`` for flow control on every store: a paused queue, a full concurrency
limit (running N of N for key K), a reached rate limit (the next start's time)."""

from __future__ import annotations

import pytest

from taskbasket import Basket
from tests.conformance.test_flow_control import claim

pytestmark = pytest.mark.needs("task_records", "flow_control")


def test_a_task_of_a_paused_queue_says_so(basket: Basket) -> None:
    @basket.task(queue="emails")
    def send() -> None: ...

    ref = send.enqueue()
    basket.pause_queue("emails")
    answer = basket.explain(ref.id)
    assert answer.kind == "paused_queue" and answer.details["queue"] == "emails"
    assert "queue 'emails' is paused" in str(answer)
    basket.resume_queue("emails")
    assert basket.explain(ref.id).kind != "paused_queue"


def test_a_full_key_limit_names_running_n_of_n_for_the_key(basket: Basket) -> None:
    @basket.task(concurrency=2, limit_key=lambda account: f"acct:{account}")
    def sync(account: int) -> None: ...

    sync.enqueue_many([(7,), (7,), (7,)])
    assert len(claim(basket)) == 2
    (waiting,) = basket.list(state="queued")
    answer = basket.explain(waiting.id)
    assert answer.kind == "limit_full", answer
    assert "running 2 of 2 for key 'acct:7'" in str(answer)
    assert answer.details["limit_key"] == "acct:7"


def test_a_full_queue_limit_names_the_queue(basket: Basket) -> None:
    @basket.task(queue="q")
    def job(n: int) -> None: ...

    job.enqueue_many([(1,), (2,)])
    basket.configure_queue("q", concurrency=1)
    assert len(claim(basket)) == 1
    (waiting,) = basket.list(state="queued")
    assert "running 1 of 1 for queue 'q'" in str(basket.explain(waiting.id))


def test_a_reached_rate_limit_names_the_next_start(basket: Basket) -> None:
    @basket.task(rate_limit="2/h")
    def call(n: int) -> None: ...

    call.enqueue_many([(n,) for n in range(3)])
    assert len(claim(basket)) == 2
    (waiting,) = basket.list(state="queued")
    answer = basket.explain(waiting.id)
    assert answer.kind == "rate_limited", answer
    assert "rate limit 2/h of task 'call' is reached" in str(answer)
    assert answer.at is not None and answer.at > basket.backend.now()
