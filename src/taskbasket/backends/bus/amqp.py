"""RabbitMQ as a task transport: ``amqp://user:pass@host:5672/vhost?prefix=taskbasket``.

Layout (``P`` is the prefix): each queue ``q`` is a durable priority queue ``P.q`` with
its dead-letter queue ``P.q.dead``; taskbasket's own queues and exchanges are named
``P:...``. A task is one persistent message (message id = task id, body =
:class:`~taskbasket.backends.bus.message.TaskMessage` JSON), published with a publisher
confirm (one task) or in one AMQP transaction (a batch).

- **Claims** take messages one by one with ``basic.get``, at most ``limit``; an idle
  worker's listener waits without taking anything (see :mod:`taskbasket.transports.amqp`).
  An unacknowledged message is the lease: if the worker dies, its connection closes and the
  broker redelivers the message at once, marked ``redelivered``. Such a message costs the
  attempt that was lost: it is republished with ``attempts + 1`` (or dead-lettered on its
  last attempt) before it runs again.
- **Delays** (``delay=``, ``run_at=``, retry backoff) go through delay levels: queue
  ``P:delay.n`` holds messages for ``2**n`` hundredths of a second (a queue-wide TTL, so
  they expire in order) and dead-letters them to the next level down. A delay's binary
  digits route it (topic exchanges) through the levels whose bit is set, then to its work
  queue: delays are exact to 10 ms plus about 1 ms per level passed. Levels are declared
  when first needed, 29 at most (62 days); a longer delay is delayed again on arrival.
- **Outcomes**: success acknowledges; a retry publishes the task to the delay levels
  with ``attempts`` carried, then acknowledges; a failure publishes it to ``P.q.dead``
  with its error, then acknowledges; a hand-back (graceful stop) republishes it unchanged.
  Publish-then-acknowledge means a crash in between runs the task twice, never zero times.
- **Priority**: RabbitMQ has 11 levels (0..10); task priorities below 0 share level 0,
  0..8 map to 1..9, and 9 or more share level 10.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from taskbasket.backends.base import (
    ClaimedTask,
    ClaimParams,
    LeaseExtendParams,
    Listener,
    NewTask,
    Outcome,
    OutcomeKind,
)
from taskbasket.backends.bus.base import (
    DEFAULT_QUEUE,
    EARLY_TOLERANCE,
    QUEUE_REFRESH_SECONDS,
    UNKNOWN_NAME_DELAY,
    BusBackendBase,
    RecentIds,
)
from taskbasket.backends.bus.message import TaskMessage, corrupt_message
from taskbasket.errors import ConfigurationError, StoreCorruptedError
from taskbasket.rules import BusAction, BusStep, LostDelivery, bus_action
from taskbasket.task import TaskRef
from taskbasket.transports.amqp import AmqpDelivery, AmqpTransport, Publish, persistent
from taskbasket.transports.layout import (
    DELAY_LEVELS,
    MAX_PRIORITY,
    check_bus_queue,
    declare_work_queue,
    delivery_exchange,
    delivery_key,
    split_bus_url,
    work_queue,
    work_routes,
)

DELAY_UNIT = 0.01
"""Seconds per unit of delay: delays are rounded to 10 ms."""
# DELAY_LEVELS = 29: level n holds a message 2**n units; level 28 holds it 31 days
# (RabbitMQ's TTL limit is 49).


def amqp_priority(priority: int) -> int:
    return min(max(priority, -1), MAX_PRIORITY - 1) + 1


@dataclass(eq=False)
class _Held:
    delivery: AmqpDelivery
    message: TaskMessage
    attempts: int


class AmqpBackend(BusBackendBase):
    """Tasks as RabbitMQ messages. Thread-safe (one connection under a lock)."""

    transport_name = "RabbitMQ"

    def __init__(self, url: str, **options: Any) -> None:
        if options:
            raise ConfigurationError(
                f"unknown option(s) for amqp://: {', '.join(sorted(options))}; RabbitMQ "
                "takes its options in the URL (?prefix=..., ?heartbeat=...)")
        self.url = url
        broker_url, self.prefix = split_bus_url(url)
        self.transport = AmqpTransport(broker_url)
        self._lock = threading.Lock()
        self._declared: set[str] = set()
        self._levels = 0
        self._migrated = False
        self._held: dict[str, _Held] = {}
        self._finished: dict[str, bool] = {}  # recently recorded tokens, for batch retries
        self._succeeded = RecentIds()
        self._known: list[str] = []
        self._known_at = 0.0
        self._rotation = 0

    # ------------------------------------------------------------------ names

    # Work and dead-letter queues are "P.<queue>"; taskbasket's own objects are "P:<name>",
    # so no queue name can collide with them.

    def work_queue(self, queue: str) -> str:
        return work_queue(self.prefix, queue)

    def dead_queue(self, queue: str) -> str:
        return f"{self.prefix}.{queue}.dead"

    @property
    def index_queue(self) -> str:
        """Holds one message per queue name ever used: how a fresh process finds them."""
        return f"{self.prefix}:queues"

    @property
    def delivery_exchange(self) -> str:
        return delivery_exchange(self.prefix)

    def delay_name(self, level: int) -> str:
        return f"{self.prefix}:delay.{level}"

    def broker_names(self) -> dict[str, list[str]]:
        """Every queue and exchange this backend declared (for tests that clean up)."""
        queues = [self.index_queue] + [self.delay_name(n) for n in range(DELAY_LEVELS)]
        for queue in set(self._declared) | set(self._known):
            queues += [self.work_queue(queue), self.dead_queue(queue)]
        exchanges = [self.delivery_exchange] + [self.delay_name(n) for n in range(DELAY_LEVELS)]
        return {"queues": queues, "exchanges": exchanges}

    # ------------------------------------------------------------------ setup

    def migrate(self) -> None:
        if self._migrated:
            return

        def declare(channel: Any) -> None:
            channel.exchange_declare(self.delivery_exchange, "topic", durable=True)
            channel.queue_declare(self.index_queue, durable=True)

        self.transport.run(declare)
        self._migrated = True

    def _ensure_queue(self, queue: str) -> None:
        if queue in self._declared:
            return
        check_bus_queue(queue)
        self.migrate()

        def declare(channel: Any) -> None:
            declare_work_queue(channel, self.prefix, queue)
            channel.queue_declare(self.dead_queue(queue), durable=True)
            channel.basic_publish("", self.index_queue, queue.encode(),
                                  persistent(queue), mandatory=True)

        self.transport.run(declare)
        with self._lock:
            self._declared.add(queue)

    def _ensure_levels(self, levels: int) -> None:
        """Declare delay levels 0..levels-1 (each dead-letters into the one below)."""
        if levels <= self._levels:
            return
        self.migrate()

        def declare(channel: Any) -> None:
            for n in range(self._levels, levels):
                below = self.delay_name(n - 1) if n else self.delivery_exchange
                skip = "*." * (DELAY_LEVELS - 1 - n)
                channel.exchange_declare(self.delay_name(n), "topic", durable=True)
                channel.queue_declare(self.delay_name(n), durable=True, arguments={
                    "x-message-ttl": round(DELAY_UNIT * 1000) * 2 ** n,
                    "x-dead-letter-exchange": below,
                })
                channel.queue_bind(self.delay_name(n), self.delay_name(n), skip + "1.#")
                channel.exchange_bind(below, self.delay_name(n), skip + "0.#")

        self.transport.run(declare)
        self._levels = levels

    def close(self) -> None:
        self.transport.close()

    # ------------------------------------------------------------------ publishing

    def _publish(self, messages: Sequence[tuple[TaskMessage, float]]) -> None:
        """Publish each message to its queue after its delay (seconds, may be <= 0)."""
        self.transport.publish(self._routed(messages))

    def _routed(self, messages: Sequence[tuple[TaskMessage, float]]) -> list[Publish]:
        """The publishes that deliver each message to its queue after its delay, with the
        queues and delay levels they pass through declared."""
        batch: list[Publish] = []
        for message, delay in messages:
            self._ensure_queue(message.queue)
            properties = persistent(message.id, amqp_priority(message.priority))
            units = min(round(delay / DELAY_UNIT), 2 ** DELAY_LEVELS - 1) if delay > 0 else 0
            key = delivery_key(message.queue, units)
            if units <= 0:
                batch.append(Publish(self.delivery_exchange, key, message.encode(), properties))
                continue
            top = units.bit_length() - 1  # the highest level this delay passes through
            self._ensure_levels(top + 1)
            batch.append(Publish(self.delay_name(top), key, message.encode(), properties))
        return batch

    def _dead_letter(self, message: TaskMessage) -> None:
        self.transport.publish([self._dead_lettered(message)])

    def _requeue(self, message: TaskMessage) -> None:
        """Publish ``message`` to its work queue, due now (a retried dead letter)."""
        self._publish([(message, 0.0)])

    def _dead_lettered(self, message: TaskMessage) -> Publish:
        self._ensure_queue(message.queue)
        return Publish("", self.dead_queue(message.queue), message.encode(),
                       persistent(message.id))

    def tasks_insert(self, tasks: Sequence[NewTask], connection: Any = None) -> list[TaskRef]:
        """Publish one message per task; returns once RabbitMQ has taken them all.

        A batch is one transaction: a producer that fails or loses its connection before
        the commit publishes none of it. RabbitMQ makes a commit atomic per queue only, so
        a broker that crashes while committing a batch bound for several queues (delays
        use queues of their own) may keep part of it."""
        self._check_insert(tasks, connection)
        now = time.time()
        messages = [TaskMessage.from_new(task, now) for task in tasks]
        self._publish([(m, m.run_at - now) for m in messages])
        return [TaskRef(m.id) for m in messages]

    # ------------------------------------------------------------------ claiming

    def _serving(self, queues: Sequence[str] | None) -> list[str]:
        served = list(queues) if queues else self.known_queues()
        for queue in served:
            self._ensure_queue(queue)
        return served

    def tasks_claim(self, params: ClaimParams) -> list[ClaimedTask]:
        """Take at most ``params.limit`` messages, one ``basic.get`` each."""
        self.check_claim_order(params)
        queues = self._serving(params.queues)
        names = None if params.names is None else set(params.names)
        claimed: list[ClaimedTask] = []
        self._rotation += 1
        start = self._rotation % len(queues)
        active = queues[start:] + queues[:start]
        budget = params.limit * 4 + 16  # messages skipped (redelivered, not due) included
        while len(claimed) < params.limit and active and budget > 0:
            for queue in list(active):
                if len(claimed) >= params.limit:
                    break
                budget -= 1
                got = self.transport.get(self.work_queue(queue))
                if got is None:
                    active.remove(queue)
                    continue
                task = self._accept(got, names)
                if task is not None:
                    claimed.append(task)
        return claimed

    def _accept(self, delivery: AmqpDelivery, names: set[str] | None) -> ClaimedTask | None:
        """The claimed task of a delivery, or None if it was dealt with otherwise."""
        queue = delivery.queue.removeprefix(f"{self.prefix}.")
        try:
            message = TaskMessage.decode(delivery.body, f"RabbitMQ queue {delivery.queue}")
        except StoreCorruptedError as exc:
            self._dead_letter(corrupt_message(
                delivery.properties.message_id, queue, delivery.body, str(exc)))
            self.transport.ack(delivery)
            return None
        if self.is_duplicate(message):
            self.transport.ack(delivery)
            return None
        now = time.time()
        if delivery.redelivered:  # its consumer died or lost its connection mid-attempt
            lost = LostDelivery(message.attempts + 1, broker_counts=False)
            self.transport.publish_and_ack(delivery, self._publishes(
                message, bus_action(lost, 0, message.max_attempts, now), now))
            return None
        if message.run_at > now + EARLY_TOLERANCE:
            self._publish([(message, message.run_at - now)])
            self.transport.ack(delivery)
            return None
        if names is not None and message.name not in names:
            self._publish([(message, UNKNOWN_NAME_DELAY)])
            self.transport.ack(delivery)
            return None
        attempts = message.attempts + 1
        with self._lock:
            self._held[delivery.token] = _Held(delivery, message, attempts)
        return message.claimed(attempts, delivery.token)

    def listener(self, queues: Sequence[str] | None) -> Listener:
        return AmqpListener(self, queues)

    # ------------------------------------------------------------------ leases, outcomes

    def leases_extend(self, params: LeaseExtendParams) -> set[str]:
        """Nothing to extend: an unacknowledged message is held while the connection lives.
        This services the connection's heartbeats and reports which deliveries are live."""
        self.transport.pump()
        with self._lock:
            held = {token: h for token, h in self._held.items()
                    if self.transport.current(h.delivery)}
        return {lease.task_id for lease in params.leases if lease.token in held}

    def tasks_finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        results = []
        for outcome in outcomes:
            token = outcome.lease.token
            with self._lock:
                held = self._held.get(token)
            if held is None or held.message.id != outcome.lease.task_id:
                results.append(self._finished.get(token, False))
                continue
            accepted = self._record(held, outcome)
            with self._lock:
                self._held.pop(token, None)
                self._finished[token] = accepted
                while len(self._finished) > 10_000:
                    self._finished.pop(next(iter(self._finished)))
            results.append(accepted)
        return results

    def _record(self, held: _Held, outcome: Outcome) -> bool:
        """Publish what the outcome needs and acknowledge, only while the delivery is
        current: a stale outcome publishes nothing (``publish_and_ack``)."""
        message, now = held.message, time.time()
        publishes = self._publishes(
            message, bus_action(outcome, held.attempts, message.max_attempts, now), now)
        acknowledged = self.transport.publish_and_ack(held.delivery, publishes)
        if acknowledged and outcome.kind is OutcomeKind.SUCCEEDED:
            self._succeeded.add(message.id)
        return acknowledged

    def _publishes(self, message: TaskMessage, action: BusAction, now: float) -> list[Publish]:
        """What to publish for ``action`` (the caller publishes it and acknowledges the
        delivery, under one hold of the transport's lock)."""
        error = message.last_error if action.error is None else action.error
        if action.step is BusStep.PUBLISH:
            run_at = message.run_at if action.run_at is None else action.run_at
            delay = 0.0 if action.run_at is None else action.run_at - now
            return self._routed([(message.but(attempts=action.attempts, last_error=error,
                                              run_at=run_at), delay)])
        if action.step is BusStep.DEAD_LETTER:
            return [self._dead_lettered(message.but(attempts=action.attempts, last_error=error,
                                                    failed_at=now))]
        return []

    # ------------------------------------------------------------------ inspection

    def known_queues(self) -> list[str]:
        if time.monotonic() - self._known_at < QUEUE_REFRESH_SECONDS and self._known:
            return list(self._known)
        self.migrate()
        seen: set[str] = set()

        def keep_first(delivery: AmqpDelivery) -> bool:
            name = delivery.body.decode("utf-8", "replace")
            duplicate = name in seen
            seen.add(name)
            return duplicate  # acknowledging duplicates keeps the index small

        self.transport.browse(self.index_queue, keep_first)
        known = sorted(seen | self._declared | {DEFAULT_QUEUE})
        self._known, self._known_at = known, time.monotonic()
        return list(known)

    def _ready_count(self, queue: str) -> int:
        return self.transport.message_count(self.work_queue(queue)) or 0

    def _scan_dead_letters(
        self, queues: Sequence[str], take: Callable[[TaskMessage], bool] | None = None
    ) -> list[TaskMessage]:
        found: list[TaskMessage] = []
        for queue in queues:
            self._ensure_queue(queue)

            def visit(delivery: AmqpDelivery, queue: str = queue) -> bool:
                try:
                    message = TaskMessage.decode(delivery.body, delivery.queue)
                except StoreCorruptedError as exc:
                    message = corrupt_message(delivery.properties.message_id, queue,
                                              delivery.body, str(exc))
                found.append(message)
                return take(message) if take is not None else False

            self.transport.browse(self.dead_queue(queue), visit)
        return found


class AmqpListener:
    """Wakes an idle worker when a message for its queues is ready, taking nothing: the
    worker then claims it with ``basic.get`` (or another worker was quicker)."""

    def __init__(self, backend: AmqpBackend, queues: Sequence[str] | None) -> None:
        self.backend = backend
        self.queues = list(queues) if queues else None
        self._closed = threading.Event()

    def wait(self, timeout: float) -> bool:
        if self._closed.is_set():
            return False
        queues = self.backend._serving(self.queues)
        return self.backend.transport.wait_routed(
            self.backend.delivery_exchange, work_routes(self.backend.prefix, queues), timeout,
            self._closed)

    def close(self) -> None:
        self._closed.set()
