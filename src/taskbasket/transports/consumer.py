"""BusConsumer: a lazy consumer (and producer) of one queue on RabbitMQ or NATS JetStream.

Lazy (seed 000): ``receive`` takes one message from the broker when it is called, never
earlier, and the consumer holds at most ``prefetch`` unacknowledged messages: while it
holds that many, ``receive`` waits for an ``ack``. Nothing is buffered on the consumer's
side, so the broker keeps every other message ready for other consumers.

``stop`` is safe from any thread, at any time, any number of times, and never blocks:
it marks the consumer done, wakes every ``receive`` (which return None), and closes the
connection in the background. Messages received but not acknowledged by then go back to
the broker (RabbitMQ at once; NATS when their AckWait runs out). Once done, every call of
``receive`` returns None at once and ``done`` stays True.

Queue names follow the task transports: ``BusConsumer("amqp://...?prefix=app", "emails")``
reads RabbitMQ queue ``app.emails``; with ``nats://`` the subject ``app.tasks.emails`` of
stream ``app``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from taskbasket.errors import ConfigurationError, TaskbasketError
from taskbasket.transports.layout import (
    check_bus_queue,
    declare_work_queue,
    delivery_exchange,
    delivery_key,
    split_bus_url,
    tasks_consumer,
    tasks_subject,
    work_queue,
    work_routes,
)


@dataclass(frozen=True, slots=True)
class Message:
    """One message a :class:`BusConsumer` received; ``ack`` it when it is processed."""

    id: str
    body: bytes
    redelivered: bool
    """The broker delivered it before (a consumer died or handed it back unacknowledged)."""
    headers: dict[str, str] = field(default_factory=dict)
    token: Any = field(default=None, repr=False, compare=False)
    """The transport's handle of this delivery (used by ``ack``)."""


class BusStoppedError(TaskbasketError):
    """``send`` was called on a consumer that was stopped."""


class _Driver(Protocol):
    def receive(self, timeout: float, stop: threading.Event) -> Message | None: ...

    def ack(self, message: Message) -> bool: ...

    def nack(self, message: Message) -> bool: ...

    def send(self, body: bytes, message_id: str) -> None: ...

    def ready(self) -> int: ...

    def close(self) -> None: ...


class BusConsumer:
    """Receives messages of one queue, one at a time, at most ``prefetch`` held at once.

    Thread-safe: several threads may wait in ``receive`` together.
    """

    def __init__(self, url: str, queue: str, prefetch: int = 1) -> None:
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 1:
            raise ConfigurationError(f"prefetch must be an int >= 1, got {prefetch!r}")
        check_bus_queue(queue)
        scheme = urlsplit(url).scheme.lower()
        self.url, self.queue, self.prefetch = url, queue, prefetch
        self._driver: _Driver
        if scheme == "amqp":
            self._driver = _AmqpDriver(url, queue)
        elif scheme == "nats":
            self._driver = _NatsDriver(url, queue)
        else:
            raise ConfigurationError(
                f"BusConsumer needs an amqp:// or nats:// URL, got {url!r}")
        self._stopped = threading.Event()
        self._cond = threading.Condition()
        self._held = 0  # received (or being received) and not yet settled
        self._closer: threading.Thread | None = None

    @property
    def done(self) -> bool:
        """True once ``stop`` was called: every later ``receive`` returns None."""
        return self._stopped.is_set()

    def receive(self, timeout: float | None = None) -> Message | None:
        """The next message, waiting up to ``timeout`` seconds (None: until one comes or
        ``stop``). None on timeout, or when the consumer is done (see ``done``)."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        with self._cond:
            while self._held >= self.prefetch and not self._stopped.is_set():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(left)
            if self._stopped.is_set():
                return None
            self._held += 1  # reserve the slot before asking the broker
        message = None
        try:
            left = 1e9 if deadline is None else max(0.0, deadline - time.monotonic())
            message = self._driver.receive(left, self._stopped)
        except Exception:
            if not self._stopped.is_set():
                self._release_slot()
                raise
        if message is not None and self._stopped.is_set():
            with contextlib.suppress(Exception):  # the broker gets it back either way
                self._driver.nack(message)
            message = None
        if message is None:
            self._release_slot()
        return message

    def ack(self, message: Message) -> bool:
        """Acknowledge: the broker forgets the message. False if it could not be (after
        ``stop`` or a lost connection): the broker will deliver it again."""
        try:
            return self._driver.ack(message)
        except Exception:
            return False
        finally:
            self._release_slot()

    def nack(self, message: Message) -> bool:
        """Hand the message back for redelivery (to this or another consumer)."""
        try:
            return self._driver.nack(message)
        except Exception:
            return False
        finally:
            self._release_slot()

    def send(self, body: bytes, message_id: str | None = None) -> None:
        """Publish a persistent message to this queue; returns once the broker has it."""
        if self._stopped.is_set():
            raise BusStoppedError("this consumer was stopped; create a new one to send")
        import uuid

        self._driver.send(body, message_id or str(uuid.uuid4()))

    def ready(self) -> int:
        """Messages ready in the queue (those delivered and unacknowledged not counted)."""
        return self._driver.ready()

    def stop(self) -> None:
        """Stop receiving; never blocks. Safe to call at any time and many times."""
        with self._cond:
            if self._stopped.is_set():
                return
            self._stopped.set()
            self._cond.notify_all()
        self._closer = threading.Thread(target=self._close, name="taskbasket-bus-close",
                                        daemon=True)
        self._closer.start()

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self._driver.close()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the connection a ``stop`` began closing is closed (for tests)."""
        if self._closer is not None:
            self._closer.join(timeout)

    def _release_slot(self) -> None:
        with self._cond:
            self._held = max(0, self._held - 1)
            self._cond.notify()

    def __enter__(self) -> BusConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _AmqpDriver:
    def __init__(self, url: str, queue: str) -> None:
        from taskbasket.transports.amqp import AmqpTransport

        broker_url, self.prefix = split_bus_url(url)
        self.transport = AmqpTransport(broker_url)
        self.name = queue
        self.queue = work_queue(self.prefix, queue)
        self.transport.run(lambda channel: declare_work_queue(channel, self.prefix, queue))

    def receive(self, timeout: float, stop: threading.Event) -> Message | None:
        deadline = time.monotonic() + timeout
        while True:
            delivery = self.transport.get(self.queue)
            if delivery is not None:
                break
            left = deadline - time.monotonic()
            if left <= 0 or stop.is_set():
                return None
            self.transport.wait_routed(delivery_exchange(self.prefix),
                                       work_routes(self.prefix, [self.name]), left, stop)
        properties = delivery.properties
        headers = {str(k): str(v) for k, v in (properties.headers or {}).items()}
        return Message(properties.message_id or "", delivery.body, delivery.redelivered,
                       headers, delivery)

    def ack(self, message: Message) -> bool:
        return self.transport.ack(message.token)

    def nack(self, message: Message) -> bool:
        return self.transport.nack(message.token, requeue=True)

    def send(self, body: bytes, message_id: str) -> None:
        from taskbasket.transports.amqp import Publish, persistent

        self.transport.publish([Publish(delivery_exchange(self.prefix),
                                        delivery_key(self.name), body, persistent(message_id))])

    def ready(self) -> int:
        return self.transport.message_count(self.queue) or 0

    def close(self) -> None:
        self.transport.close()


class _NatsDriver:
    SLICE = 5.0

    def __init__(self, url: str, queue: str) -> None:
        from taskbasket.transports.nats import NatsTransport

        broker_url, prefix = split_bus_url(url)
        self.transport = NatsTransport(broker_url, on_stale=self._on_stale)
        self.stream, self.subject = prefix, tasks_subject(prefix, queue)
        self.consumer = tasks_consumer(queue)
        try:
            self.transport.call(self.transport.ensure_stream(self.stream, prefix))
            self.transport.call(self.transport.ensure_consumer(
                self.stream, self.consumer, self.subject, queue, None))
        except BaseException:
            self.transport.close()
            raise

    @staticmethod
    async def _on_stale(msg: Any) -> None:
        await msg.nak()

    def receive(self, timeout: float, stop: threading.Event) -> Message | None:
        transport = self.transport
        deliveries = transport.call(transport.pull(self.stream, self.consumer, 1, None))
        deadline = time.monotonic() + timeout
        while not deliveries and not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0.001:
                return None
            expires = min(left, self.SLICE)
            first = transport.call_until(
                transport.pull_first(self.stream, [self.consumer], expires), stop,
                expires + 5)
            deliveries = [first] if first is not None else []
        if not deliveries:
            return None
        msg = deliveries[0].msg
        headers = dict(msg.headers or {})
        return Message(headers.get("Nats-Msg-Id", ""), msg.data,
                       msg.metadata.num_delivered > 1, headers, msg)

    def ack(self, message: Message) -> bool:
        async def ack() -> None:
            await message.token.ack()
            await self.transport.nc.flush()

        self.transport.call(ack())
        return True

    def nack(self, message: Message) -> bool:
        self.transport.call(message.token.nak())
        return True

    def send(self, body: bytes, message_id: str) -> None:
        self.transport.call(self.transport.js.publish(
            self.subject, body, headers={"Nats-Msg-Id": message_id}))

    def ready(self) -> int:
        async def count() -> int:
            info = await self.transport.js.consumer_info(self.stream, self.consumer)
            return int(info.num_pending or 0)

        return self.transport.call(count())

    def close(self) -> None:
        self.transport.close()


__all__ = ["BusConsumer", "BusStoppedError", "Message"]
