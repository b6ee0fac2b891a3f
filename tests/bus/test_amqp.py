"""RabbitMQ as a task transport (``amqp://``), against the real broker.

The shared suite (``BusWorkerTests``) runs real worker processes; the tests below look at
the broker itself: claims are lazy, a lost connection's message comes back costing its
attempt, priorities order ready tasks, delays pass through the delay levels, and a batch
is published in one transaction.
"""

from __future__ import annotations

import linecache
import os
import sys
import threading
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
from taskbasket.backends.bus.amqp import DELAY_UNIT, AmqpBackend
from taskbasket.errors import BackendUnavailableError
from taskbasket.transports.amqp import Publish, persistent
from tests.bus import BusWorkerTests, new_bus_url, wait_for
from tests.stores import unique_tag


class TestAmqpWorker(BusWorkerTests):
    bus = "amqp"


@pytest.fixture
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    with new_bus_url("amqp", unique_tag(request)) as url:
        yield url


@pytest.fixture
def basket(url: str) -> Iterator[Basket]:
    basket = Basket(url)
    try:
        yield basket
    finally:
        basket.close()


def _claim(backend: AmqpBackend, limit: int) -> list[ClaimedTask]:
    return backend.tasks_claim(ClaimParams("w", ["job"], limit, 30.0, ["default"]))


def test_claims_are_lazy_one_message_per_free_slot(basket: Basket) -> None:
    basket.enqueue_many("job", [(i,) for i in range(5)])
    backend = basket.backend
    assert isinstance(backend, AmqpBackend)
    claimed = _claim(backend, 2)
    assert len(claimed) == 2
    assert backend.transport.message_count(backend.work_queue("default")) == 3
    assert basket.count(state="queued") == 3
    accepted = backend.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in claimed])
    assert accepted == [True, True]
    assert basket.count(state="queued") == 3


def test_a_lost_connection_redelivers_and_the_lost_attempt_counts(url: str) -> None:
    producer, victim, rescuer = Basket(url), AmqpBackend(url), AmqpBackend(url)
    try:
        ref = producer.enqueue("job", max_attempts=3)
        [first] = _claim(victim, 1)
        assert first.attempts == 1
        victim.transport.close()  # as if the worker died: the broker takes the message back
        [second] = wait_for(lambda: _claim(rescuer, 1), 10, "the redelivery")
        assert second.id == ref.id and second.attempts == 2
        # the dead worker's late outcome is refused (fencing by delivery)
        assert victim.tasks_finish([Outcome(first.lease, OutcomeKind.SUCCEEDED)]) == [False]
        assert rescuer.tasks_finish([Outcome(second.lease, OutcomeKind.SUCCEEDED)]) == [True]
    finally:
        producer.close()
        victim.close()
        rescuer.close()


def test_higher_priority_is_claimed_first(basket: Basket) -> None:
    basket.enqueue("job", args=["low"], priority=-5)
    basket.enqueue("job", args=["middle"], priority=3)
    basket.enqueue("job", args=["high"], priority=100)
    backend = basket.backend
    assert isinstance(backend, AmqpBackend)
    claimed = [_claim(backend, 1)[0] for _ in range(3)]
    assert ['["high"]' in t.payload for t in claimed] == [True, False, False]
    assert '["middle"]' in claimed[1].payload and '["low"]' in claimed[2].payload


def test_a_delay_passes_the_levels_of_its_binary_digits(basket: Basket) -> None:
    backend = basket.backend
    assert isinstance(backend, AmqpBackend)
    started = time.monotonic()
    basket.enqueue("job", delay=0.37)  # 37 units: levels 5, 2 and 0
    [claimed] = wait_for(lambda: _claim(backend, 1), 5, "the delayed task", interval=0.005)
    waited = time.monotonic() - started
    assert waited >= 0.37 - DELAY_UNIT, waited  # never early
    assert backend._levels == 6  # levels 0..5 declared and passed, none above
    backend.tasks_finish([Outcome(claimed.lease, OutcomeKind.SUCCEEDED)])


def test_a_task_unknown_to_the_worker_waits_for_one_that_knows_it(basket: Basket) -> None:
    basket.enqueue("other")
    backend = basket.backend
    assert isinstance(backend, AmqpBackend)
    assert _claim(backend, 1) == []  # put back (delayed) rather than run or lost
    assert basket.count(state="queued") == 0
    assert basket.count(state="failed") == 0


def test_a_batch_is_one_transaction_that_a_lost_connection_discards(
    basket: Basket, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = basket.backend
    assert isinstance(backend, AmqpBackend)
    basket.enqueue_many("job", [(i,) for i in range(3)], delay=0.02)  # and a delayed batch
    wait_for(lambda: basket.count(state="queued") == 3, 10, "the delayed batch")
    transport = backend.transport
    channel = transport._transaction_channel()
    commit = channel.tx_commit

    def lose_the_connection_then_commit() -> None:
        transport._connection.close()  # the broker discards the open transaction
        commit()

    monkeypatch.setattr(channel, "tx_commit", lose_the_connection_then_commit)
    with pytest.raises(BackendUnavailableError, match="unreachable"):
        basket.enqueue_many("job", [(i,) for i in range(50)])
    assert basket.count(state="queued") == 3  # none of the 50 (a new connection)
    refs = basket.enqueue_many("job", [(i,) for i in range(50)])
    assert len(refs) == 50 and basket.count(state="queued") == 53


def test_an_unroutable_message_in_a_batch_raises_and_the_rest_are_published(
    basket: Basket,
) -> None:
    backend = basket.backend
    assert isinstance(backend, AmqpBackend)
    work = backend.work_queue("default")
    basket.enqueue("job")  # declares the work queue
    batch = [Publish("", work, b"{}", persistent(f"m{i}")) for i in range(3)]
    batch.insert(1, Publish("", f"{work}.nowhere", b"{}", persistent("lost")))
    with pytest.raises(BackendUnavailableError, match="did not accept"):
        backend.transport.publish(batch)
    assert backend.transport.message_count(work) == 4
    backend.transport.publish(batch[2:])  # the channel is fine afterwards
    assert backend.transport.message_count(work) == 6


def _waiting_for_the_connection(thread: threading.Thread) -> bool:
    """True while ``thread`` waits to take the transport's lock (``with self._lock:``)."""
    frame = sys._current_frames().get(thread.ident or -1)
    client = os.path.join("transports", "amqp.py")
    if frame is None or not frame.f_code.co_filename.endswith(client):
        return False
    return linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip() == (
        "with self._lock:")


@pytest.mark.parametrize("kind", [OutcomeKind.FAILED, OutcomeKind.RETRY,
                                  OutcomeKind.SUCCEEDED, OutcomeKind.RELEASED])
def test_an_outcome_waiting_for_the_connection_while_it_is_lost_records_nothing(
    url: str, kind: OutcomeKind,
) -> None:
    """The heartbeat thread finds the connection dead and the claim loop reconnects while
    the completer waits to publish: the broker has redelivered the message, so the
    outcome must not go out on the new connection."""
    producer, stale, current = Basket(url), AmqpBackend(url), AmqpBackend(url)
    try:
        ref = producer.enqueue("job", max_attempts=5)
        [first] = _claim(stale, 1)
        late = Outcome(first.lease, kind, error="stale worker's error", retry_delay=0.0)
        results: list[list[bool]] = []
        with stale.transport._lock:  # another thread of the stale worker is on the connection
            finisher = threading.Thread(target=lambda: results.append(
                stale.tasks_finish([late])))
            finisher.start()
            wait_for(lambda: _waiting_for_the_connection(finisher), 10,
                     "the outcome to wait for the connection")
            stale.transport._drop()  # the connection is lost: the broker takes the message back
            stale.transport._main()  # and another thread of the worker reconnects
            [second] = wait_for(lambda: _claim(current, 1), 10, "the redelivery")
            assert second.id == ref.id and second.attempts == 2
        finisher.join(10)
        assert results == [[False]]
        assert stale.leases_extend(LeaseExtendParams([first.lease], 30.0)) == set()
        assert producer.count(state="failed") == 0 and producer.count(state="queued") == 0
        assert current.tasks_finish([Outcome(second.lease, OutcomeKind.SUCCEEDED)]) == [True]
        assert producer.count(state="failed") == 0 and producer.count(state="queued") == 0
    finally:
        producer.close()
        stale.close()
        current.close()
