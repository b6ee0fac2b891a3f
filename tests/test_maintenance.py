"""The maintenance services' schedule and options (their store operations are proven on
every store in tests/conformance/test_maintenance.py and test_leader.py)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from taskbasket import Basket, ConfigurationError, State
from taskbasket.maintenance import DEFAULT_RETENTION, Maintenance, Pruner, Stager, parse_retention
from taskbasket.maintenance.pruner import BACKLOG_INTERVAL
from taskbasket.relay import Relay

DAY = 24 * 3600.0


def test_retention_default_and_forms() -> None:
    assert parse_retention(DEFAULT_RETENTION) == {
        State.SUCCEEDED: DAY, State.CANCELLED: DAY, State.FAILED: 7 * DAY}
    assert parse_retention(None) == {}
    assert parse_retention("2h") == dict.fromkeys(
        (State.CANCELLED, State.FAILED, State.SUCCEEDED), 7200.0)
    assert parse_retention({"failed": timedelta(days=30), "cancelled": None}) == {
        State.SUCCEEDED: DAY, State.FAILED: 30 * DAY}


@pytest.mark.parametrize(("value", "words"), [
    ({"running": "1d"}, "only final tasks are pruned"),
    ({"done": "1d"}, "no state"),
    ("soon", "cannot read duration"),
    ({"failed": -1}, "duration"),
])
def test_bad_retention_names_the_problem(sqlite_url: str, value: object, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        Basket(sqlite_url, retention=value)  # type: ignore[arg-type]
    basket = Basket(sqlite_url)
    with pytest.raises(ConfigurationError, match=words):
        basket.worker(retention=value)  # type: ignore[arg-type]


def test_a_worker_takes_its_baskets_retention(sqlite_url: str) -> None:
    basket = Basket(sqlite_url, retention={"succeeded": "1h"})
    assert basket.worker().retention[State.SUCCEEDED] == 3600.0
    assert basket.worker(retention=None).retention == {}
    pruner = basket.worker().maintenance.service("pruner")
    assert isinstance(pruner, Pruner) and pruner.retention[State.FAILED] == 7 * DAY


def test_services_run_at_their_jittered_intervals_on_an_injected_clock(
    sqlite_url: str,
) -> None:
    basket = Basket(sqlite_url)
    now = [100.0]
    stager = Stager(basket.backend, interval=10.0, jitter=0.1)
    runs: list[float] = []
    original = stager.run_once

    def counted() -> int:
        runs.append(now[0])
        return original()

    stager.run_once = counted  # type: ignore[method-assign]
    maintenance = Maintenance(basket.backend, [stager], holder="me", leader_ttl=30,
                              clock=lambda: now[0])
    wait = maintenance.tick()
    assert runs == [100.0] and 9.0 <= wait <= 10.0  # the election is due in 10 s too
    for _ in range(30):
        now[0] += 1.0
        maintenance.tick()
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert len(runs) >= 3 and all(9.0 <= gap <= 12.0 for gap in gaps)
    assert all(9.0 <= stager.next_interval() <= 11.0 for _ in range(100))
    basket.close()


def test_a_pruner_with_a_backlog_comes_back_soon(sqlite_url: str) -> None:
    basket = Basket(sqlite_url)
    basket.task(name="job")(lambda: None)
    basket.enqueue_many("job", [() for _ in range(25)])
    assert basket.cancel([t.id for t in basket.list(limit=100)]) == 25
    pruner = Pruner(basket.backend, {State.CANCELLED: 0.0}, batch=2, interval=60)
    assert pruner.run_once() == 20  # ten batches, the bound of one run
    assert pruner.next_interval() == BACKLOG_INTERVAL
    assert pruner.run_once() == 5
    assert pruner.next_interval() > 50
    basket.close()


def test_a_bus_has_no_maintenance_and_a_relay_has_a_stores(sqlite_url: str,
                                                           tmp_path: object) -> None:
    bus = Basket(f"file://{tmp_path}/tasks.jsonl")
    bus.task(name="job")(lambda: None)
    assert bus.worker().maintenance.services == []
    relay = Relay(sqlite_url, f"file://{tmp_path}/out.jsonl", retention=None)
    names = [s.name for s in relay.maintenance.services]
    assert names == ["rescuer", "stager", "pruner"]
    assert relay.maintain_once().pruned == 0
    relay.close()
