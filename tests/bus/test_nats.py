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
from taskbasket.backends.bus.nats import NatsBackend
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


def _subject_counts(backend: NatsBackend) -> dict[str, int]:
    """Messages stored per subject kind (``tasks``, ``delayed``, ``dead``) of the stream."""
    info = backend.transport.call(backend.transport.js.stream_info(
        backend.stream, subjects_filter=f"{backend.prefix}.>"))
    counts = {"tasks": 0, "delayed": 0, "dead": 0}
    for subject, count in (info.state.subjects or {}).items():
        counts[subject.split(".")[1]] += count
    return counts


@pytest.mark.parametrize("kind", [OutcomeKind.FAILED, OutcomeKind.RETRY,
                                  OutcomeKind.SUCCEEDED, OutcomeKind.RELEASED])
def test_a_worker_whose_message_was_redelivered_cannot_record_its_outcome(
    url: str, kind: OutcomeKind,
) -> None:
    producer, stale, current = Basket(url), NatsBackend(url), NatsBackend(url)
    try:
        ref = producer.enqueue("job", max_attempts=5)
        [first] = _claim(stale, 1, lease=1.0)
        # no heartbeat: the first worker's AckWait runs out and the server redelivers
        [second] = wait_for(lambda: _claim(current, 1, lease=1.0), 10, "the redelivery")
        assert second.id == first.id == ref.id and second.attempts == 2
        late = Outcome(first.lease, kind, error="stale worker's error", retry_delay=0.0)

        # while the current attempt runs: refused, and the current lease is untouched
        assert stale.tasks_finish([late]) == [False]
        assert stale.leases_extend(LeaseExtendParams([first.lease], 1.0)) == set()
        assert _consumer(current) == (0, 1)  # still held by the current attempt
        assert _subject_counts(current) == {"tasks": 1, "delayed": 0, "dead": 0}
        assert current.leases_extend(LeaseExtendParams([second.lease], 1.0)) == {ref.id}

        # after the current attempt succeeded: still refused, and nothing comes back
        assert current.tasks_finish([Outcome(second.lease, OutcomeKind.SUCCEEDED)]) == [True]
        assert stale.tasks_finish([late]) == [False]
        wait_for(lambda: _consumer(current) == (0, 0), 5, "the acknowledgement")
        assert _subject_counts(current) == {"tasks": 0, "delayed": 0, "dead": 0}
        assert producer.count(state="failed") == 0 and producer.count(state="queued") == 0
    finally:
        producer.close()
        stale.close()
        current.close()


def test_a_redelivery_to_the_same_worker_makes_its_earlier_lease_stale(url: str) -> None:
    producer, worker = Basket(url), NatsBackend(url)
    try:
        ref = producer.enqueue("job", max_attempts=5)
        [first] = _claim(worker, 1, lease=1.0)
        [second] = wait_for(lambda: _claim(worker, 1, lease=1.0), 10, "the redelivery")
        assert second.id == ref.id and second.attempts == 2
        assert worker.leases_extend(
            LeaseExtendParams([first.lease, second.lease], 1.0)) == {ref.id}
        assert worker.tasks_finish([Outcome(first.lease, OutcomeKind.FAILED, error="x"),
                                    Outcome(second.lease, OutcomeKind.SUCCEEDED)]) == [
            False, True]
        wait_for(lambda: _consumer(worker) == (0, 0), 5, "the acknowledgement")
        assert _subject_counts(worker) == {"tasks": 0, "delayed": 0, "dead": 0}
    finally:
        producer.close()
        worker.close()
