"""Bounded prefetch (``Worker(prefetch=)``, ``--prefetch``): while tasks run shorter than
a claim's round trip, a worker claims up to ``prefetch`` tasks beyond its free slots,
never more; with longer tasks it claims for free slots only (lazy claiming); on stop the
prefetched tasks are handed back unattempted."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from taskbasket import Basket, State
from taskbasket.backends.base import ClaimParams
from taskbasket.errors import ConfigurationError
from taskbasket.worker.prefetch import PrefetchGauge, default_prefetch
from tests.helpers import wait_for


class SlowClaims:
    """Wraps a worker's store: every claim takes ``seconds`` more (a far store), and the
    limit each claim asked for is kept."""

    def __init__(self, backend: Any, seconds: float) -> None:
        self._backend, self.seconds, self.limits = backend, seconds, []

    def tasks_claim(self, params: ClaimParams) -> Any:
        self.limits.append(params.limit)
        time.sleep(self.seconds)
        return self._backend.tasks_claim(params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


@pytest.mark.needs("task_records")
def test_short_tasks_are_prefetched_within_the_cap(basket: Basket) -> None:
    @basket.task
    def quick(n: int) -> None:
        pass

    quick.enqueue_many([(i,) for i in range(200)])
    worker = basket.worker(concurrency=2, prefetch=3, poll_interval=0.05)
    slow = SlowClaims(worker.backend, 0.01)
    worker.backend = slow  # type: ignore[assignment]
    worker.start()
    try:
        wait_for(lambda: basket.count(State.SUCCEEDED) == 200, 30, "the drain")
    finally:
        worker.stop()
    assert max(slow.limits) == 5  # the two slots and the three prefetched, never more
    assert slow.limits[0] == 2  # before any attempt ended: the free slots only


@pytest.mark.needs("task_records")
def test_long_tasks_are_claimed_for_free_slots_only(basket: Basket) -> None:
    gate = threading.Event()

    @basket.task
    def held(n: int) -> None:
        gate.wait(20)

    held.enqueue_many([(i,) for i in range(6)])
    worker = basket.worker(concurrency=2, prefetch=4, poll_interval=0.05)
    worker.start()
    try:
        wait_for(lambda: basket.count(State.RUNNING) == 2, 20, "two to run")
        time.sleep(0.3)  # a claim loop that would prefetch has had time to
        assert basket.count(State.RUNNING) == 2 and basket.count(State.QUEUED) == 4
    finally:
        gate.set()
        worker.stop()


@pytest.mark.needs("task_records")
def test_stop_hands_prefetched_tasks_back_unattempted(basket: Basket) -> None:
    gate = threading.Event()

    @basket.task
    def step(n: int) -> None:
        if n >= 50:
            gate.wait(20)

    step.enqueue_many([(i,) for i in range(50)])  # short: the gauge sees short tasks
    worker = basket.worker(concurrency=1, prefetch=3, poll_interval=0.05, grace_period=10)
    worker.backend = SlowClaims(worker.backend, 0.01)  # type: ignore[assignment]
    worker.start()
    try:
        wait_for(lambda: basket.count(State.SUCCEEDED) == 50, 30, "the short tasks")
        refs = step.enqueue_many([(50 + i,) for i in range(4)])
        wait_for(lambda: basket.count(State.RUNNING) >= 2, 20, "one running, some prefetched")
        held = basket.count(State.RUNNING)
        assert held <= 4  # the slot and the prefetch cap
    finally:
        threading.Timer(0.5, gate.set).start()
        worker.stop()
    states = [basket.get(ref.id) for ref in refs]
    ran = [t for t in states if t is not None and t.state is State.SUCCEEDED]
    back = [t for t in states if t is not None and t.state is State.QUEUED]
    assert len(ran) == 1 and len(back) == 3  # prefetched ones and the one never claimed
    assert all(t.attempts == 0 for t in back)


def test_the_gauge_and_the_default() -> None:
    gauge = PrefetchGauge()
    assert not gauge.active  # nothing known yet: lazy
    gauge.claim_took(0.005)
    gauge.attempt_ran(0.0001)
    assert gauge.active
    for _ in range(30):
        gauge.attempt_ran(1.0)
    assert not gauge.active
    assert default_prefetch(8) == 32 and default_prefetch(100) == 64


@pytest.mark.parametrize("bad", [-1, 1001, "3", True, 2.5])
def test_a_bad_prefetch_is_refused_with_the_range(basket: Basket, bad: Any) -> None:
    @basket.task
    def job() -> None:
        pass

    with pytest.raises(ConfigurationError, match=r"prefetch must be an int within 0\.\.1000"):
        basket.worker(prefetch=bad)
