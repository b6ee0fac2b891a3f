"""The seed's consumer cases (seed 000), for RabbitMQ and NATS JetStream alike.

- messages are lazy loaded;
- ``stop()`` can be called while several calls wait in ``receive``;
- ``stop()`` never blocks, even with outstanding ``receive`` or ``send`` calls;
- ``stop()`` is safe to call many times, and before any ``receive``;
- ``receive`` after ``stop()`` is safe and reports done;
- once done, every later ``receive`` reports done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from taskbasket.transports.consumer import BusConsumer, BusStoppedError
from tests.bus import BUSES, bus_url, drop, require
from tests.helpers import wait_for

QUEUE = "seed"


@pytest.fixture(params=BUSES)
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    bus: str = request.param
    require(bus)
    url = bus_url(bus, f"seed_{request.node.originalname[5:25]}_{time.time_ns() % 10**9}")
    try:
        yield url
    finally:
        drop(bus, url, (QUEUE,))


@pytest.fixture
def consumer(url: str) -> Iterator[BusConsumer]:
    consumer = BusConsumer(url, QUEUE)
    try:
        yield consumer
    finally:
        consumer.stop()
        consumer.join(10)


def _returns(call: Callable[[], object]) -> bool:
    """Whether ``call`` returns, run on a thread of its own, within a deadline (10 s) that
    nothing it could wait for here would meet: receivers without a timeout, endless
    senders, a queue nobody fills. How fast it returns is make bench's business."""
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(10)
    return not thread.is_alive()


def _threads(target: object, count: int) -> list[threading.Thread]:
    threads = [threading.Thread(target=target, daemon=True) for _ in range(count)]  # type: ignore[arg-type]
    for thread in threads:
        thread.start()
    return threads


def test_messages_are_lazy_loaded(url: str, consumer: BusConsumer) -> None:
    for i in range(5):
        consumer.send(f"message {i}".encode())
    message = consumer.receive(5)
    assert message is not None and message.body == b"message 0"
    assert consumer.ready() == 4  # the broker still holds the other four, ready
    if url.startswith("nats"):
        driver = consumer._driver
        info = driver.transport.call(driver.transport.js.consumer_info(  # type: ignore[attr-defined]
            driver.stream, driver.consumer))  # type: ignore[attr-defined]
        assert (info.num_pending, info.num_ack_pending) == (4, 1)
    else:
        # one message unacknowledged and nothing else taken: when this consumer goes
        # away, the broker has all five ready again
        consumer.stop()
        consumer.join(10)
        other = BusConsumer(url, QUEUE)
        try:
            assert other.ready() == 5
        finally:
            other.stop()
            other.join(10)


def test_prefetch_bounds_the_messages_held(consumer: BusConsumer) -> None:
    for i in range(3):
        consumer.send(f"m{i}".encode())
    first = consumer.receive(5)
    assert first is not None
    assert consumer.receive(0.2) is None  # prefetch=1: nothing more until the ack
    assert consumer.ready() == 2
    assert consumer.ack(first) is True
    second = consumer.receive(5)
    assert second is not None and second.body == b"m1"
    assert consumer.ack(second) is True


def test_stop_while_several_threads_wait_in_receive(url: str) -> None:
    consumer = BusConsumer(url, QUEUE, prefetch=3)
    results: list[object] = []
    threads = _threads(lambda: results.append(consumer.receive()), 3)
    # all three are waiting for a message that never comes (each holds a prefetch slot)
    wait_for(lambda: consumer._held == 3, 10, "three receivers to wait")
    assert _returns(consumer.stop)
    for thread in threads:
        thread.join(5)
        assert not thread.is_alive()
    assert results == [None, None, None]
    assert consumer.done
    consumer.join(10)


def test_stop_never_blocks_with_outstanding_receive_and_send_calls(url: str) -> None:
    consumer = BusConsumer(url, QUEUE, prefetch=1)
    stopped_senders: list[str] = []
    sent = [0]

    def send_until_stopped() -> None:
        try:
            while True:
                consumer.send(b"x" * 1000)
                sent[0] += 1
        except BusStoppedError:
            stopped_senders.append("stopped")
        except Exception as exc:  # the connection closed under a send in flight
            stopped_senders.append(type(exc).__name__)

    receivers = _threads(lambda: consumer.receive(), 2)
    senders = _threads(send_until_stopped, 2)
    # the receivers hold the one prefetch slot, or wait for it, and the senders are busy
    wait_for(lambda: consumer._held == 1 and sent[0] >= 10, 10, "receives and sends")
    assert _returns(consumer.stop)
    for thread in receivers + senders:
        thread.join(10)
        assert not thread.is_alive()
    assert len(stopped_senders) == 2
    consumer.join(10)


def test_stop_is_safe_many_times_and_before_any_receive(consumer: BusConsumer) -> None:
    for _ in range(5):
        assert _returns(consumer.stop)
    assert consumer.done
    assert consumer.receive(1) is None


def test_receive_after_stop_is_safe_and_reports_done(consumer: BusConsumer) -> None:
    consumer.send(b"one")
    consumer.send(b"two")
    message = consumer.receive(5)
    assert message is not None and consumer.ack(message)
    consumer.stop()
    received: list[object] = ["nothing yet"]
    assert _returns(lambda: received.__setitem__(0, consumer.receive()))  # no timeout
    assert received == [None]
    assert consumer.done


def test_once_done_every_later_receive_reports_done(url: str, consumer: BusConsumer) -> None:
    consumer.stop()
    producer = BusConsumer(url, QUEUE)
    try:
        producer.send(b"arrives after the stop")
        for _ in range(5):
            assert consumer.receive(0.1) is None
            assert consumer.done
    finally:
        producer.stop()
        producer.join(10)
