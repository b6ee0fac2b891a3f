"""The worker registry's rules, on the memory store with a fake clock: gone after three
missed heartbeat intervals, a long-unseen row pruned by the next worker that starts, and a
registry that cannot be written never stops a worker."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from taskbasket import Basket
from taskbasket.backends.base import WorkersBeatParams
from taskbasket.testing import FakeClock
from taskbasket.workers import (
    GONE_AFTER_BEATS,
    REMOVE_AFTER,
    encode_info,
    list_workers,
    removal_cutoff,
)


def info(interval: float) -> str:
    return encode_info(host="h", pid=1, queues=None, tasks=["job"], concurrency=2, busy=0,
                       heartbeat_interval=interval)


def test_a_worker_is_gone_after_three_of_its_own_intervals() -> None:
    clock = FakeClock()
    basket = Basket("memory://", clock=clock)
    basket.backend.workers_beat(WorkersBeatParams("fast", info(1.0)))
    basket.backend.workers_beat(WorkersBeatParams("slow", info(10.0)))
    clock.advance(GONE_AFTER_BEATS * 1.0)
    assert [w.gone for w in basket.workers()] == [False, False]  # exactly 3: not yet
    clock.advance(0.5)
    assert [(w.id, w.gone) for w in basket.workers()] == [("fast", True), ("slow", False)]
    clock.advance(GONE_AFTER_BEATS * 10.0)
    assert [w.gone for w in basket.workers()] == [True, True]
    assert all(w.state == "gone" for w in list_workers(basket.backend))


def test_rows_unseen_for_an_hour_are_pruned_when_a_worker_starts() -> None:
    clock = FakeClock()
    basket = Basket("memory://", clock=clock)

    @basket.task
    def job() -> None: ...

    basket.backend.workers_beat(WorkersBeatParams("dead", info(10.0)))
    clock.advance(REMOVE_AFTER - timedelta(seconds=1))
    basket.backend.workers_beat(WorkersBeatParams("recent", info(10.0)))
    clock.advance(2)
    worker = basket.worker(visibility_timeout=30)
    with worker:
        ids = [w.id for w in basket.workers()]
    assert ids == ["recent", worker.worker_id]  # "dead" pruned; the worker's row gone at stop
    assert [w.id for w in basket.workers()] == ["recent"]


def test_the_removal_cutoff_is_an_hour_or_ten_intervals() -> None:
    now = FakeClock().now()
    assert removal_cutoff(now, 10.0) == now - REMOVE_AFTER
    assert removal_cutoff(now, 600.0) == now - timedelta(seconds=6000)


def test_a_registry_that_cannot_be_written_never_stops_the_worker(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    basket = Basket("memory://")
    done: list[int] = []

    @basket.task
    def job(n: int) -> None:
        done.append(n)

    def refuse(params: object) -> None:
        raise ConnectionError("the registry is away")

    monkeypatch.setattr(basket.backend, "workers_beat", refuse)
    monkeypatch.setattr(basket.backend, "workers_remove", refuse)
    for n in range(3):
        job.enqueue(n)
    with caplog.at_level(logging.WARNING, logger="taskbasket.worker"):
        basket.worker(visibility_timeout=3).run_until_empty(timeout=20)
    assert sorted(done) == [0, 1, 2]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("could not write its registry row" in m for m in messages) == 1
    assert any("could not delete its registry row" in m for m in messages)
