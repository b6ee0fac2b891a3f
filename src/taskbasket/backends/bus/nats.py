"""NATS JetStream as a task transport: ``nats://host:4222?prefix=taskbasket``.

Layout (``P`` is the prefix): one work-queue stream ``P`` with the subjects
``P.tasks.<queue>`` (ready tasks), ``P.delayed.<queue>`` (tasks waiting for their run_at)
and ``P.dead.<queue>`` (failed tasks: the dead-letter queue). Each queue has a durable
pull consumer on its tasks subject, shared by every worker. A task is one message (body =
:class:`~taskbasket.backends.bus.message.TaskMessage` JSON; ``Nats-Msg-Id`` = task id, so a
producer's retried publish is stored once).

- **Claims** fetch with a pull request for at most ``limit`` messages, answered at once;
  an idle worker's listener pulls exactly one, waiting. The consumer's AckWait is the
  lease (``--visibility-timeout``; the last worker to start sets it), heartbeats send
  ``in_progress``, and a message whose worker died is redelivered when AckWait runs out.
  Attempts are ``attempts`` carried in the message plus the delivery count.
- **Fencing**: the server takes any acknowledgement, even from a delivery whose AckWait
  ran out, so the worker fences itself (:mod:`taskbasket.backends.bus.nats_leases`): an
  outcome or heartbeat of a lease it no longer surely holds is refused, and nothing is
  published or acknowledged for it.
- **Delays** (``delay=``, ``run_at=``, retry backoff) publish to ``P.delayed.<queue>``.
  Each worker runs a promoter per queue it serves: it receives delayed messages and
  ``nak``s each with the time left, so the server hands it back when it is due, then
  publishes it to the tasks subject. Delays are precise to a few milliseconds while a
  worker runs; with no worker running, due tasks wait for one.
- **Outcomes**: success acknowledges; a retry publishes to the delayed subject with
  ``attempts`` carried, then acknowledges; a failure publishes to ``P.dead.<queue>``
  with its error, then acknowledges; a hand-back republishes without counting an attempt.
- **Priority** is ignored: a stream delivers in order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from nats.aio.msg import Msg

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
from taskbasket.backends.bus.nats_leases import DeliveryLeases, HeldDelivery
from taskbasket.errors import ConfigurationError, StoreCorruptedError
from taskbasket.rules import BusAction, BusStep, LostDelivery, bus_action
from taskbasket.task import TaskRef
from taskbasket.transports.layout import (
    check_bus_queue,
    consumer_token,
    split_bus_url,
    tasks_consumer,
    tasks_subject,
)
from taskbasket.transports.nats import Delivery, NatsTransport

log = logging.getLogger("taskbasket.worker")

PUBLISH_WINDOW = 500
PROMOTER_ACK_WAIT = 30.0
PROMOTER_BATCH = 256
LISTEN_SLICE = 5.0
"""Longest pull an idle listener keeps open at once."""


class NatsBackend(BusBackendBase):
    """Tasks as JetStream messages. Thread-safe (the client runs on its own loop)."""

    transport_name = "NATS JetStream"

    def __init__(self, url: str, **options: Any) -> None:
        if options:
            raise ConfigurationError(
                f"unknown option(s) for nats://: {', '.join(sorted(options))}; NATS takes "
                "taskbasket's options in the URL (?prefix=...)")
        self.url = url
        broker_url, self.prefix = split_bus_url(url)
        self.stream = self.prefix
        self.transport = NatsTransport(broker_url, on_stale=self._on_stale)
        self._migrated = False
        self._declared: set[str] = set()
        self._consumers: dict[str, float] = {}  # queue -> the AckWait set on its consumer
        self._leases = DeliveryLeases(lambda queue: self._consumers.get(queue, 0.0))
        self._succeeded = RecentIds()
        self._stash: deque[Delivery] = deque()
        self._promoters: dict[str, concurrent.futures.Future[Any]] = {}
        self._known: list[str] = []
        self._known_at = 0.0
        self._rotation = 0

    # ------------------------------------------------------------------ names

    def tasks_subject(self, queue: str) -> str:
        return tasks_subject(self.prefix, queue)

    def delayed_subject(self, queue: str) -> str:
        return f"{self.prefix}.delayed.{queue}"

    def dead_subject(self, queue: str) -> str:
        return f"{self.prefix}.dead.{queue}"

    def tasks_consumer(self, queue: str) -> str:
        return tasks_consumer(queue)

    def delayed_consumer(self, queue: str) -> str:
        return f"delayed_{consumer_token(queue)}"

    # ------------------------------------------------------------------ setup

    def migrate(self) -> None:
        """Create the stream (idempotent; many processes may race to do it)."""
        if self._migrated:
            return

        self.transport.call(self.transport.ensure_stream(self.stream, self.prefix))
        self._migrated = True

    def _ensure_consumer(self, queue: str, ack_wait: float) -> None:
        if self._consumers.get(queue) == ack_wait:
            return
        check_bus_queue(queue)
        self.migrate()
        self.transport.call(self.transport.ensure_consumer(
            self.stream, self.tasks_consumer(queue), self.tasks_subject(queue), queue, ack_wait))
        self._consumers[queue] = ack_wait

    def close(self) -> None:
        for future in list(self._promoters.values()):
            future.cancel()
        self._promoters.clear()
        if not self.transport.closed:
            with contextlib.suppress(Exception):  # unacknowledged: AckWait redelivers them
                self.transport.call(self._hand_back_stash(), 10)
        self.transport.close()

    # ------------------------------------------------------------------ publishing

    async def _publish(self, message: TaskMessage, delay: float, msg_id: str) -> None:
        """Publish ``message`` due after ``delay`` seconds (to the delayed subject if > 0)."""
        subject = (self.delayed_subject(message.queue) if delay > 0.0005
                   else self.tasks_subject(message.queue))
        await self.transport.js.publish(subject, message.encode(),
                                        headers={"Nats-Msg-Id": msg_id})

    async def _republish(self, message: TaskMessage, delay: float, why: str) -> None:
        await self._publish(message, delay, f"{message.id}:{message.attempts}:{why}:"
                                            f"{time.time_ns()}")

    async def _dead_letter(self, message: TaskMessage) -> None:
        await self.transport.js.publish(
            self.dead_subject(message.queue), message.encode(),
            headers={"Nats-Msg-Id": f"{message.id}:dead:{time.time_ns()}"})

    def _requeue(self, message: TaskMessage) -> None:
        self.transport.call(self._republish(message, 0.0, "requeue"))

    def tasks_insert(self, tasks: Sequence[NewTask], connection: Any = None) -> list[TaskRef]:
        """Publish one message per task; returns once JetStream stored them all.

        Publishes run concurrently, up to ``PUBLISH_WINDOW`` at a time. Not atomic across
        tasks: if the server fails mid-batch, some tasks are stored and an error is raised.
        """
        self._check_insert(tasks, connection)
        self.migrate()
        now = time.time()
        messages = [TaskMessage.from_new(task, now) for task in tasks]
        for message in messages:
            self._declared.add(message.queue)

        async def publish_all() -> None:
            for start in range(0, len(messages), PUBLISH_WINDOW):
                await asyncio.gather(*(self._publish(m, m.run_at - now, m.id)
                                       for m in messages[start:start + PUBLISH_WINDOW]))

        self.transport.call(publish_all(), 30 + len(messages) / 100)
        return [TaskRef(m.id) for m in messages]

    # ------------------------------------------------------------------ claiming

    def _serving(self, queues: Sequence[str] | None, lease_seconds: float) -> list[str]:
        served = list(queues) if queues else self.known_queues()
        for queue in served:
            self._ensure_consumer(queue, lease_seconds)
            self._ensure_promoter(queue)
        return served

    def tasks_claim(self, params: ClaimParams) -> list[ClaimedTask]:
        """Fetch at most ``params.limit`` messages, only those ready now."""
        self.check_claim_order(params)
        queues = self._serving(params.queues, params.lease_seconds)
        names = None if params.names is None else set(params.names)
        self._rotation += 1
        start = self._rotation % len(queues)
        order = queues[start:] + queues[:start]

        async def claim() -> list[ClaimedTask]:
            claimed: list[ClaimedTask] = []
            while len(claimed) < params.limit and self._stash:
                task = await self._accept(self._stash.popleft(), names)
                if task is not None:
                    claimed.append(task)
            for queue in order:
                rounds = 4  # messages skipped (lease expired, not due) are fetched again
                while len(claimed) < params.limit and rounds:
                    rounds -= 1
                    wanted = params.limit - len(claimed)
                    deliveries = await self.transport.pull(
                        self.stream, self.tasks_consumer(queue), wanted, None)
                    for delivery in deliveries:
                        task = await self._accept(delivery, names)
                        if task is not None:
                            claimed.append(task)
                    if len(deliveries) < wanted:
                        break
            return claimed

        return self.transport.call(claim())

    def _lapsed(self, delivery: Delivery) -> bool:
        """True if ``delivery``'s AckWait may have run out (the server redelivers it)."""
        queue = delivery.msg.subject.removeprefix(f"{self.prefix}.tasks.")
        return self._leases.lapsed(queue, delivery.received)

    async def _accept(self, delivery: Delivery, names: set[str] | None) -> ClaimedTask | None:
        """The claimed task of a delivery, or None if it was dealt with otherwise."""
        msg = delivery.msg
        queue = msg.subject.removeprefix(f"{self.prefix}.tasks.")
        if self._lapsed(delivery):  # read long ago (a listener's): no longer ours to settle
            return None
        try:
            message = TaskMessage.decode(msg.data, f"NATS subject {msg.subject}")
        except StoreCorruptedError as exc:
            msg_id = (msg.headers or {}).get("Nats-Msg-Id")
            await self._dead_letter(corrupt_message(msg_id, queue, msg.data, str(exc)))
            await msg.ack()
            return None
        if self.is_duplicate(message):
            await msg.ack()
            return None
        attempts = message.attempts + msg.metadata.num_delivered
        now = time.time()
        if msg.metadata.num_delivered > 1 or attempts > message.max_attempts:
            # the deliveries before this one were lost
            lost = LostDelivery(attempts - 1, broker_counts=True)
            action = bus_action(lost, 0, message.max_attempts, now)
            if action.step is not BusStep.RUN:
                await self._apply(message, action, now, "lost")
                await msg.ack()
                return None
        unknown = names is not None and message.name not in names
        if unknown or message.run_at > now + EARLY_TOLERANCE:
            delay = UNKNOWN_NAME_DELAY if unknown else message.run_at - now
            await self._republish(message.but(attempts=attempts - 1), delay, "later")
            await msg.ack()
            return None
        self._leases.hold(HeldDelivery(msg, message, attempts, queue, delivery.received))
        return message.claimed(attempts, msg.reply)

    async def _hand_back(self, msg: Msg) -> None:
        """Return an unstarted delivery to its queue without costing an attempt."""
        try:
            message = TaskMessage.decode(msg.data, msg.subject)
        except StoreCorruptedError:
            await msg.nak()
            return
        attempts = message.attempts + msg.metadata.num_delivered - 1
        await self._republish(message.but(attempts=attempts), 0.0, "back")
        await msg.ack()

    async def _hand_back_stash(self) -> None:
        while self._stash:
            delivery = self._stash.popleft()
            if not self._lapsed(delivery):
                await self._hand_back(delivery.msg)

    async def _on_stale(self, msg: Msg) -> None:
        """A message that arrived for a pull nobody waits for any more."""
        if msg.subject.startswith(f"{self.prefix}.tasks."):
            await self._hand_back(msg)
        else:
            await msg.nak()  # a delayed message: another promoter takes it

    def listener(self, queues: Sequence[str] | None) -> Listener:
        return NatsListener(self, queues)

    # ------------------------------------------------------------------ promoting

    def _ensure_promoter(self, queue: str) -> None:
        future = self._promoters.get(queue)
        if future is not None and not future.done():
            return
        self.transport.call(self.transport.ensure_consumer(
            self.stream, self.delayed_consumer(queue), self.delayed_subject(queue), queue,
            PROMOTER_ACK_WAIT))
        self._promoters[queue] = self.transport.spawn(self._promote(queue))

    async def _promote(self, queue: str) -> None:
        """Move delayed messages of ``queue`` to its tasks subject as they come due."""
        consumer = self.delayed_consumer(queue)
        while True:
            try:
                async for delivery in self.transport.pull_iter(
                        self.stream, consumer, PROMOTER_BATCH, LISTEN_SLICE):
                    await self._promote_one(delivery.msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broker outage: try again
                log.warning("promoting delayed tasks of %s failed, retrying: %r", queue, exc)
                await asyncio.sleep(1.0)

    async def _promote_one(self, msg: Msg) -> None:
        try:
            message = TaskMessage.decode(msg.data, msg.subject)
        except StoreCorruptedError as exc:
            queue = msg.subject.removeprefix(f"{self.prefix}.delayed.")
            await self._dead_letter(corrupt_message(None, queue, msg.data, str(exc)))
            await msg.ack()
            return
        wait = message.run_at - time.time()
        if wait > 0.001:
            await msg.nak(delay=wait)
            return
        await self._publish(message, 0.0, f"{message.id}:{message.attempts}:due:"
                                          f"{message.run_at}")
        await msg.ack()

    # ------------------------------------------------------------------ leases, outcomes

    def leases_extend(self, params: LeaseExtendParams) -> set[str]:
        """Tell the server each held message is in progress: its AckWait starts again.

        A lease counts as extended only if the server confirmed the ``in_progress``
        (a flush) before the lease ran out; stale leases are omitted and get nothing."""
        held = [(lease.task_id, h) for lease in params.leases
                if (h := self._leases.holding(lease)) is not None]
        if not held:
            return set()

        async def extend() -> None:
            for _, h in held:
                await h.msg.in_progress()
            await self.transport.nc.flush()

        sent = time.monotonic()
        self.transport.call(extend())
        confirmed = time.monotonic()
        return {task_id for task_id, h in held if self._leases.extended(h, sent, confirmed)}

    def tasks_finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """Record each outcome whose lease is still held (``DeliveryLeases.holding``);
        refuse the rest, publishing and acknowledging nothing for them."""
        async def finish() -> list[bool]:
            results = []
            for outcome in outcomes:
                held = self._leases.holding(outcome.lease)
                if held is None:
                    results.append(False)
                    continue
                await self._record(held, outcome)
                self._leases.forget(held)
                results.append(True)
            await self.transport.nc.flush()
            return results

        return self.transport.call(finish())

    async def _record(self, held: HeldDelivery, outcome: Outcome) -> None:
        message, now = held.message, time.time()
        action = bus_action(outcome, held.attempts, message.max_attempts, now)
        why = "retry" if outcome.kind is OutcomeKind.RETRY else "back"
        await self._apply(message, action, now, why)
        await held.msg.ack()
        if outcome.kind is OutcomeKind.SUCCEEDED:
            self._succeeded.add(message.id)

    async def _apply(self, message: TaskMessage, action: BusAction, now: float,
                     why: str) -> None:
        """Publish what ``action`` says (the caller acknowledges the delivery)."""
        error = message.last_error if action.error is None else action.error
        if action.step is BusStep.PUBLISH:
            run_at = message.run_at if action.run_at is None else action.run_at
            delay = 0.0 if action.run_at is None else action.run_at - now
            await self._republish(message.but(attempts=action.attempts, last_error=error,
                                              run_at=run_at), delay, why)
        elif action.step is BusStep.DEAD_LETTER:
            await self._dead_letter(message.but(attempts=action.attempts, last_error=error,
                                                failed_at=now))

    # ------------------------------------------------------------------ inspection

    def known_queues(self) -> list[str]:
        if time.monotonic() - self._known_at < QUEUE_REFRESH_SECONDS and self._known:
            return list(self._known)
        self.migrate()

        async def find() -> set[str]:
            info = await self.transport.js.stream_info(self.stream,
                                                       subjects_filter=f"{self.prefix}.>")
            found = set()
            for subject in info.state.subjects or {}:
                parts = subject.split(".", 2)
                if len(parts) == 3:
                    found.add(parts[2])
            for consumer in await self.transport.js.consumers_info(self.stream):
                if consumer.config.description:
                    found.add(consumer.config.description)
            return found

        known = sorted(self.transport.call(find()) | self._declared | {DEFAULT_QUEUE})
        self._known, self._known_at = known, time.monotonic()
        return list(known)

    def _ready_count(self, queue: str) -> int:
        return self.transport.call(
            self.transport.subject_count(self.stream, self.tasks_subject(queue)))

    def _scan_dead_letters(
        self, queues: Sequence[str], take: Callable[[TaskMessage], bool] | None = None
    ) -> list[TaskMessage]:
        self.migrate()
        js = self.transport.js
        messages: list[TaskMessage] = []
        for queue in queues:
            subject = self.dead_subject(queue)
            for seq, data in self.transport.call(
                    self.transport.subject_messages(self.stream, subject)):
                try:
                    message = TaskMessage.decode(data, subject)
                except StoreCorruptedError as exc:
                    message = corrupt_message(None, queue, data, str(exc))
                messages.append(message)
                if take is not None and take(message):
                    self.transport.call(js.delete_msg(self.stream, seq))
        return messages


class NatsListener:
    """Wakes an idle worker when a message arrives, by pulling exactly that message.

    The worker waits only while it has a free slot, so the message it holds here is
    claimed at once; on close, a message pulled but not claimed goes back unchanged.
    """

    def __init__(self, backend: NatsBackend, queues: Sequence[str] | None) -> None:
        self.backend = backend
        self.queues = list(queues) if queues else None
        self._closed = threading.Event()

    def wait(self, timeout: float) -> bool:
        backend = self.backend
        if backend._stash:
            return True
        if self._closed.is_set() or timeout < 0.001:
            return False
        queues = self.queues or backend.known_queues()
        consumers = [backend.tasks_consumer(q) for q in queues
                     if q in backend._consumers]
        if not consumers:
            self._closed.wait(timeout)
            return False
        expires = min(timeout, LISTEN_SLICE)
        delivery = backend.transport.call_until(
            backend.transport.pull_first(backend.stream, consumers, expires),
            self._closed, expires + 5)
        if delivery is None:
            return False
        backend._stash.append(delivery)
        if self._closed.is_set():
            self.close()
            return False
        return True

    def close(self) -> None:
        self._closed.set()
        if self.backend._stash and not self.backend.transport.closed:
            with contextlib.suppress(Exception):  # unacknowledged: AckWait redelivers them
                self.backend.transport.call(self.backend._hand_back_stash(), 10)
