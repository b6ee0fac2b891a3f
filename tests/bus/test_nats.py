"""NATS JetStream as a task transport (``nats://``), against the real server.

The shared suite (``BusWorkerTests``) runs real worker processes; the tests below look at
the server itself: claims are lazy, heartbeats keep a message from being redelivered,
and a message whose AckWait runs out comes back costing its attempt.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from taskbasket import Basket
from taskbasket.backends.base import (
    ClaimedTask,
    ClaimParams,
    LeaseExtendParams,
    Outcome,
    OutcomeKind,
)
from taskbasket.backends.nats import NatsBackend
from tests.bus import BusWorkerTests, new_bus_url, wait_for
from tests.stores import unique_tag


class TestNatsWorker(BusWorkerTests):
    bus = "nats"


@pytest.fixture
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    with new_bus_url("nats", unique_tag(request)) as url:
        yield url


def _claim(backend: NatsBackend, limit: int, lease: float = 30.0) -> list[ClaimedTask]:
    return backend.tasks_claim(ClaimParams("w", ["job"], limit, lease, ["default"]))


def _consumer(backend: NatsBackend) -> tuple[int, int]:
    info = backend.transport.call(backend.transport.js.consumer_info(
        backend.stream, backend.tasks_consumer("default")))
    return info.num_pending, info.num_ack_pending


def test_claims_are_lazy_one_message_per_free_slot(url: str) -> None:
    basket = Basket(url)
    try:
        basket.enqueue_many("job", [(i,) for i in range(5)])
        backend = basket.backend
        assert isinstance(backend, NatsBackend)
        claimed = _claim(backend, 2)
        assert len(claimed) == 2
        assert _consumer(backend) == (3, 2)  # 3 ready on the server, 2 held by us
        backend.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in claimed])
        wait_for(lambda: _consumer(backend) == (3, 0), 5, "the acknowledgements")
        assert basket.count(state="queued") == 3
    finally:
        basket.close()


def test_heartbeats_hold_a_message_and_an_expired_one_comes_back(url: str) -> None:
    producer, worker, rescuer = Basket(url), NatsBackend(url), NatsBackend(url)
    try:
        ref = producer.enqueue("job", max_attempts=3)
        [first] = _claim(worker, 1, lease=1.0)
        for _ in range(6):  # 1.8 s: past the 1 s AckWait, held by in_progress
            assert worker.leases_extend(LeaseExtendParams([first.lease], 1.0)) == {ref.id}
            time.sleep(0.3)
            assert _claim(rescuer, 1, lease=1.0) == []
        [second] = wait_for(lambda: _claim(rescuer, 1, lease=1.0), 5, "the redelivery")
        assert second.id == ref.id and second.attempts == 2
        assert rescuer.tasks_finish([Outcome(second.lease, OutcomeKind.SUCCEEDED)]) == [True]
    finally:
        producer.close()
        worker.close()
        rescuer.close()
