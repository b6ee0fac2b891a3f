"""A thread-safe RabbitMQ client over pika, that fetches lazily: one message at a time.

pika is *not* thread-safe, so one lock guards the connection and every call takes it. A
worker calls from several threads (claims, heartbeats, outcomes), which is fine: each call
is a short round trip, and waiting holds the lock only in slices of ``WAIT_SLICE`` s.

Lazy fetching: messages are only ever taken with ``basic.get``, one per call, so nothing
is buffered on this side. Waiting takes nothing either: ``wait_routed`` binds a private,
exclusive queue to the exchange that routes messages into the work queues, with the work
queues' own bindings, and wakes when a copy of a new message lands there (or a message is
ready already); the caller then ``get``s. A consumer on the work queue itself would hold a
message it did not ask for, and cancelling it can race with a delivery, which the broker
then redelivers marked ``redelivered``: taskbasket reads that mark as a lost attempt, so it
must only ever mean that a consumer died. A consumer that dies leaves its unacknowledged
messages to the broker, which redelivers them.

This client knows queues, exchanges and messages, never tasks: the names and routes
taskbasket uses are in :mod:`taskbasket.transports.layout`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pika
import pika.exceptions

from taskbasket.errors import BackendUnavailableError

T = TypeVar("T")

if logging.getLogger("pika").level == logging.NOTSET:
    # pika logs every connection step and channel at INFO; a worker logs at INFO
    logging.getLogger("pika").setLevel(logging.WARNING)

WAIT_SLICE = 0.02
"""Seconds a waiter holds the connection's lock at a time."""


@dataclass(eq=False)
class AmqpDelivery:
    """One unacknowledged message, valid while its connection and channel live."""

    generation: int
    channel: Any  # pika BlockingChannel
    delivery_tag: int
    queue: str
    body: bytes
    properties: Any  # pika.BasicProperties
    redelivered: bool

    @property
    def token(self) -> str:
        return f"{self.generation}:{self.channel.channel_number}:{self.delivery_tag}"


@dataclass(frozen=True, slots=True)
class Publish:
    exchange: str
    routing_key: str
    body: bytes
    properties: Any  # pika.BasicProperties


class AmqpTransport:
    """One connection to RabbitMQ shared by threads; reconnects on the next call after a
    failure (deliveries of the old connection can then no longer be settled: the broker
    redelivers them)."""

    def __init__(self, url: str, *, connect_timeout: float = 5.0) -> None:
        self.url = url
        try:
            self._parameters = pika.URLParameters(url)
        except (ValueError, TypeError) as exc:
            from taskbasket.errors import ConfigurationError

            raise ConfigurationError(f"bad RabbitMQ URL {url!r}: {exc}") from exc
        if "socket_timeout" not in url:
            self._parameters.socket_timeout = connect_timeout
        if "blocked_connection_timeout" not in url:
            self._parameters.blocked_connection_timeout = 30
        parts = urlsplit(url)
        self._where = f"{parts.hostname or 'localhost'}:{parts.port or 5672}"  # no password
        self._lock = threading.RLock()
        self._connection: Any = None
        self._channel: Any = None
        self._waiter: Any = None  # the channel waits happen on (not in confirm mode)
        self._batches: Any = None  # the channel batches are published on, in transactions
        self._returned: list[Any] = []  # messages the broker could not route, in a batch
        self._closed = False
        self.generation = 0

    # ------------------------------------------------------------------ connection

    def _main(self) -> Any:
        if self._connection is None or not self._connection.is_open:
            self._connection = pika.BlockingConnection(self._parameters)
            self.generation += 1
            self._channel = self._waiter = self._batches = None
        if self._channel is None or not self._channel.is_open:
            channel = self._connection.channel()
            channel.confirm_delivery()
            self._channel = channel
        return self._channel

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        self._channel = self._waiter = self._batches = None
        if connection is not None and connection.is_open:
            with contextlib.suppress(Exception):  # it is being dropped because it failed
                connection.close()

    @contextmanager
    def session(self) -> Iterator[Any]:
        """The main channel (confirm mode), under the lock; a connection failure becomes
        BackendUnavailableError and the next call reconnects."""
        with self._lock:
            if self._closed:
                raise BackendUnavailableError(f"the connection to {self._where} is closed")
            try:
                yield self._main()
            except pika.exceptions.ChannelClosedByBroker as exc:
                # the connection lives; the next call opens a new channel for the closed one
                if self._channel is not None and not self._channel.is_open:
                    self._channel = None
                if self._waiter is not None and not self._waiter.is_open:
                    self._waiter = None
                if self._batches is not None and not self._batches.is_open:
                    self._batches = None
                raise BackendUnavailableError(
                    f"RabbitMQ at {self._where} refused an operation: {exc.reply_code} "
                    f"{exc.reply_text}") from exc
            except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
                raise BackendUnavailableError(
                    f"RabbitMQ at {self._where} did not accept a message ({exc!r}); it was "
                    "not published") from exc
            except (pika.exceptions.AMQPError, OSError) as exc:
                self._drop()
                raise BackendUnavailableError(
                    f"RabbitMQ at {self._where} is unreachable: {exc!r}") from exc

    def run(self, operation: Callable[[Any], T]) -> T:
        """Run ``operation(main_channel)`` under the lock."""
        with self.session() as channel:
            return operation(channel)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop()

    @property
    def closed(self) -> bool:
        return self._closed

    def pump(self) -> None:
        """Service heartbeats and pending I/O: call it every few seconds while idle."""
        with self._lock:
            if self._connection is not None and self._connection.is_open:
                try:
                    self._connection.process_data_events(0)
                except (pika.exceptions.AMQPError, OSError):
                    self._drop()

    # ------------------------------------------------------------------ messages

    def publish(self, messages: Sequence[Publish]) -> None:
        """Publish persistently; returns once the broker has taken every message.

        One message waits for its publisher confirm. A batch is one AMQP transaction on a
        channel of its own: one round trip for the lot, and a connection lost before the
        commit publishes none of it. A message the broker cannot route raises
        ``UnroutableError`` (as ``BackendUnavailableError``); in a batch, the others are
        published.
        """
        with self.session() as channel:
            if len(messages) == 1:
                [message] = messages
                channel.basic_publish(message.exchange, message.routing_key, message.body,
                                      message.properties, mandatory=True)
                return
            batches = self._transaction_channel()
            del self._returned[:]
            for message in messages:
                batches.basic_publish(message.exchange, message.routing_key, message.body,
                                      message.properties, mandatory=True)
            batches.tx_commit()
            # the broker returns an unroutable message before it confirms the commit
            self._connection.process_data_events(0)
            if self._returned:
                raise pika.exceptions.UnroutableError(list(self._returned))

    def _transaction_channel(self) -> Any:
        if self._batches is None or not self._batches.is_open:
            channel = self._connection.channel()
            channel.tx_select()
            channel.add_on_return_callback(
                lambda _channel, _method, properties, _body: self._returned.append(properties))
            self._batches = channel
        return self._batches

    def get(self, queue: str) -> AmqpDelivery | None:
        """The next ready message of ``queue``, or None at once if there is none."""
        with self.session() as channel:
            method, properties, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                return None
            return AmqpDelivery(self.generation, channel, method.delivery_tag, queue, body,
                                properties, bool(method.redelivered))

    def wait_routed(
        self, exchange: str, routes: Sequence[tuple[str, str]], timeout: float,
        stop: threading.Event,
    ) -> bool:
        """Block until a message is ready in one of the work queues of ``routes`` or is
        routed to one (True), for at most ``timeout`` seconds or until ``stop`` is set
        (False). Takes no message.

        Each route is a work queue and the pattern that binds it to ``exchange``, the
        topic exchange every message enters its work queue through."""
        deadline = time.monotonic() + timeout
        woken = threading.Event()
        with self.session():
            generation = self.generation
            channel = self._waiter
            if channel is None or not channel.is_open:
                channel = self._waiter = self._connection.channel()
            declared = channel.queue_declare("", exclusive=True, auto_delete=True,
                                             arguments={"x-max-length": 1})
            wake = declared.method.queue
            for _, pattern in routes:
                channel.queue_bind(wake, exchange, pattern)
            # bound first, then looked: a message routed in between wakes us either way
            for queue, _ in routes:
                ready = channel.queue_declare(queue, passive=True)
                if ready.method.message_count:
                    channel.queue_delete(wake)
                    return True
            tag = channel.basic_consume(wake, lambda *_: woken.set(), auto_ack=True)
        try:
            while not woken.is_set() and not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                with self.session():
                    if generation != self.generation:
                        return False
                    self._connection.process_data_events(min(remaining, WAIT_SLICE))
        finally:
            with self._lock:
                if generation == self.generation and channel.is_open:
                    try:
                        channel.basic_cancel(tag)  # auto-delete: the queue goes with it
                    except (pika.exceptions.AMQPError, OSError):
                        self._drop()
        return woken.is_set()

    def current(self, delivery: AmqpDelivery) -> bool:
        """True while ``delivery`` can still be settled (its connection and channel live)."""
        return (delivery.generation == self.generation and not self._closed
                and delivery.channel.is_open)

    def ack(self, delivery: AmqpDelivery) -> bool:
        """Acknowledge; False if the delivery is stale (the broker will redeliver it)."""
        return self._settle(delivery, lambda ch: ch.basic_ack(delivery.delivery_tag))

    def publish_and_ack(self, delivery: AmqpDelivery, messages: Sequence[Publish]) -> bool:
        """Publish ``messages``, then acknowledge ``delivery``: both on the delivery's own
        connection, under one hold of the lock, so nothing is published for a stale
        delivery (its connection lost, even if another thread has reconnected since)."""
        with self._lock:
            if not self.current(delivery):
                return False
            if messages:
                self.publish(messages)  # current: the main channel is the delivery's
            return self.ack(delivery)

    def nack(self, delivery: AmqpDelivery, *, requeue: bool) -> bool:
        return self._settle(
            delivery, lambda ch: ch.basic_nack(delivery.delivery_tag, requeue=requeue))

    def _settle(self, delivery: AmqpDelivery, action: Callable[[Any], None]) -> bool:
        with self._lock:
            if not self.current(delivery):
                return False
            try:
                action(delivery.channel)
            except (pika.exceptions.AMQPError, OSError):
                self._drop()
                return False
            return True

    # ------------------------------------------------------------------ inspection

    def message_count(self, queue: str) -> int | None:
        """Ready messages in ``queue`` (not those delivered and unacknowledged); None if
        the queue does not exist."""
        with self.session():
            channel = self._connection.channel()
            try:
                result = channel.queue_declare(queue, passive=True)
                return int(result.method.message_count)
            except pika.exceptions.ChannelClosedByBroker:
                return None
            finally:
                if channel.is_open:
                    channel.close()

    def browse(self, queue: str, take: Callable[[AmqpDelivery], bool],
               limit: int = 1_000_000) -> None:
        """Visit the messages of ``queue`` in order; those ``take`` returns True for are
        acknowledged (removed), the rest go back to the queue unchanged in position."""
        with self.session():
            channel = self._connection.channel()
            try:
                for _ in range(limit):
                    method, properties, body = channel.basic_get(queue, auto_ack=False)
                    if method is None:
                        break
                    delivery = AmqpDelivery(self.generation, channel, method.delivery_tag,
                                            queue, body, properties, bool(method.redelivered))
                    if take(delivery):
                        channel.basic_ack(method.delivery_tag)
            finally:
                if channel.is_open:
                    channel.close()  # the broker requeues what was not acknowledged


def persistent(message_id: str, priority: int = 0,
               headers: dict[str, Any] | None = None) -> Any:
    """Properties of a persistent JSON message (fresh: never copied from a delivery,
    whose x-death headers would make RabbitMQ drop it as a dead-letter cycle)."""
    return pika.BasicProperties(
        message_id=message_id, delivery_mode=2, content_type="application/json",
        priority=priority, headers=headers or None,
    )
