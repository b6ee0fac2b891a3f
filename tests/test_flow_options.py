"""Flow-control options checked where they are given: a task's concurrency, rate_limit and
limit_key at registration and enqueue, a queue's limits at configuration; each error names
the field, and nothing is stored."""

from __future__ import annotations

import pytest

from taskbasket import Basket, ConfigurationError
from taskbasket.backends.flow_params import Rate, parse_rate


@pytest.fixture
def basket() -> Basket:
    return Basket("memory://")


@pytest.mark.parametrize("text, rate", [("10/s", Rate(10, 1.0)), ("100/m", Rate(100, 60.0)),
                                        (" 7 / h ", Rate(7, 3600.0))])
def test_rates_are_read(text: str, rate: Rate) -> None:
    assert parse_rate("rate_limit", text) == rate
    assert str(rate) in {"10/s", "100/m", "7/h"}


@pytest.mark.parametrize("bad", ["ten per second", "0/s", "10/d", "10", "-1/s", 10, "1.5/s"])
def test_a_malformed_rate_names_the_field(basket: Basket, bad: object) -> None:
    with pytest.raises(ConfigurationError, match="rate_limit"):
        basket.task(rate_limit=bad)(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="rate_limit"):
        basket.configure_queue("q", rate_limit=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_a_concurrency_below_one_names_the_field(basket: Basket, bad: object) -> None:
    with pytest.raises(ConfigurationError, match="concurrency"):
        basket.task(concurrency=bad)(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="concurrency"):
        basket.configure_queue("q", concurrency=bad)  # type: ignore[arg-type]


def test_a_limit_key_that_raises_or_returns_no_str_stores_nothing(basket: Basket) -> None:
    @basket.task(concurrency=1, limit_key=lambda account: {"a": 1}[account])
    def raising(account: str) -> None: ...

    @basket.task(concurrency=1, limit_key=lambda account: account)
    def returning(account: object) -> None: ...

    with pytest.raises(ConfigurationError, match="limit_key of task 'raising' raised KeyError"):
        raising.enqueue("b")
    with pytest.raises(ConfigurationError, match="limit_key of task 'returning'"):
        returning.enqueue(7)
    with pytest.raises(ConfigurationError, match="limit_key"):
        returning.enqueue_many([("ok",), (7,)])  # one bad call: none of the batch is stored
    with pytest.raises(ConfigurationError, match="limit_key"):
        returning.options(limit_key="").enqueue("x")
    with pytest.raises(ConfigurationError, match="limit_key must be a function"):
        basket.task(limit_key="acct")(lambda: None)  # type: ignore[arg-type]
    assert basket.count() == 0


def test_an_explicit_limit_key_wins_over_the_function(basket: Basket) -> None:
    @basket.task(concurrency=1, limit_key=lambda account: f"acct:{account}")
    def sync(account: int) -> None: ...

    sync.options(limit_key="acct:7").enqueue(1)
    sync.enqueue(2)
    stored = sorted(record.limit_key or "" for record in basket.backend.store.tasks.values())  # type: ignore[attr-defined]
    assert stored == ["acct:2", "acct:7"]


def test_an_unknown_queue_can_be_paused_and_resumed(basket: Basket) -> None:
    basket.pause_queue("nobody-uses-this")
    assert [(q.name, q.paused) for q in basket.queues()] == [("nobody-uses-this", True)]
    basket.resume_queue("nobody-uses-this")
    assert not basket.queues()[0].paused
