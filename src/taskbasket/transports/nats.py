"""A NATS JetStream client usable from any thread, that fetches lazily.

nats-py is asynchronous: the client lives on an event loop in a background thread, and
:meth:`NatsTransport.call` runs a coroutine there and waits for its result.

Lazy fetching uses the pull API directly (``$JS.API.CONSUMER.MSG.NEXT``): each request
asks for exactly ``batch`` messages, either at once (``no_wait``) or waiting up to
``expires`` seconds. Every request has its own reply subject, so a message that arrives
after its caller stopped waiting is recognised as *stale* and handed to ``on_stale``
(which returns it to the stream) instead of being mistaken for the answer to a later
request. A message not acknowledged within the consumer's AckWait is redelivered. Each
delivery carries the moment this client read it, from which its AckWait is counted.

This client knows streams, consumers and messages, never tasks: the subjects and consumer
names taskbasket uses are in :mod:`taskbasket.transports.layout`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from taskbasket.errors import BackendUnavailableError

T = TypeVar("T")

STALE_GRACE = 2.0
"""Seconds past a pull's expiry that its caller waits for the server's final status."""


async def _quietly(coroutine: Awaitable[Any]) -> None:
    with contextlib.suppress(Exception):
        await coroutine


def status_of(msg: Msg) -> str | None:
    """The status code of a JetStream status message (404, 408, 409...), else None."""
    headers = msg.headers
    return headers.get("Status") if headers and not msg.data else None


@dataclass(frozen=True, slots=True, eq=False)
class Delivery:
    """A message a pull received, and when: ``received`` is ``time.monotonic()`` as the
    client read it, within moments of the server starting its AckWait."""

    msg: Msg
    received: float


class NatsTransport:
    """One NATS connection on its own event loop thread."""

    def __init__(
        self, url: str, *, connect_timeout: float = 5.0,
        on_stale: Callable[[Msg], Awaitable[None]] | None = None,
    ) -> None:
        self.url = url
        self.on_stale = on_stale
        parts = urlsplit(url)
        self._where = f"nats://{parts.hostname or '127.0.0.1'}:{parts.port or 4222}"
        self._server = parts._replace(query="", fragment="").geturl()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="taskbasket-nats")
        self._thread.start()
        self._serial = itertools.count(1)
        self._closed = False
        try:
            self.nc: Client = self.call(self._connect(connect_timeout), connect_timeout + 5)
        except BaseException:
            self._stop_loop()
            raise
        self.js = self.nc.jetstream()

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        loop.run_forever()
        # stopped by close(): end what is left (pulls, promoters) and free the loop
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    async def _connect(self, timeout: float) -> Client:
        try:
            nc = await nats.connect(
                self._server, connect_timeout=timeout, allow_reconnect=True,
                max_reconnect_attempts=2, reconnect_time_wait=0.5,
            )
        except Exception as exc:  # nats-py raises many kinds here
            raise BackendUnavailableError(
                f"cannot connect to NATS at {self._where}: {exc!r}") from exc
        nc.options["max_reconnect_attempts"] = -1  # once connected, reconnect for ever
        self._inbox = nc.new_inbox()
        return nc

    # ------------------------------------------------------------------ calls

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run ``coroutine`` on the client's loop and wait for its result."""
        if self._closed:
            coroutine.close()
            raise BackendUnavailableError(f"the connection to {self._where} is closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise BackendUnavailableError(
                f"NATS at {self._where} did not answer within {timeout}s") from None
        except concurrent.futures.CancelledError:
            raise BackendUnavailableError(
                f"the connection to {self._where} was closed during the call") from None
        except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
            raise BackendUnavailableError(f"NATS at {self._where}: {exc!r}") from exc

    def call_until(
        self, coroutine: Coroutine[Any, Any, T], stop: threading.Event, timeout: float,
    ) -> T | None:
        """Like ``call``, but gives up (cancelling the coroutine) once ``stop`` is set."""
        if self._closed or stop.is_set():
            coroutine.close()
            return None
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        waited = 0.0
        while True:
            try:
                return future.result(0.02)
            except concurrent.futures.TimeoutError:
                waited += 0.02
                if stop.is_set() or self._closed or waited > timeout:
                    future.cancel()
                    return None
            except concurrent.futures.CancelledError:
                return None
            except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
                raise BackendUnavailableError(f"NATS at {self._where}: {exc!r}") from exc

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Start ``coroutine`` on the loop in the background."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    # ------------------------------------------------------------------ pulling

    async def _stale(self, msg: Msg) -> None:
        if status_of(msg) is None and self.on_stale is not None:
            with contextlib.suppress(Exception):  # unacknowledged: AckWait redelivers it
                await self.on_stale(msg)

    async def pull_iter(
        self, stream: str, consumer: str, batch: int, expires: float | None,
    ) -> AsyncIterator[Delivery]:
        """Yield up to ``batch`` deliveries as they arrive: those ready now (``expires``
        None) or arriving within ``expires`` seconds.

        Each request has its own reply subscription (a delivered message carries its
        stream subject, not the reply subject, so only the subscription tells requests
        apart). If the caller stops before the server ended the request, the subscription
        stays until the request expires and hands what still arrives to ``on_stale``.
        """
        queue: asyncio.Queue[Delivery] = asyncio.Queue()
        stale = False

        async def receive(msg: Msg) -> None:
            if stale:
                await self._stale(msg)
            else:
                queue.put_nowait(Delivery(msg, time.monotonic()))

        subscription = await self.nc.subscribe(f"{self._inbox}.{next(self._serial)}",
                                               cb=receive)
        request: dict[str, Any] = {"batch": batch}
        if expires is None:
            request["no_wait"] = True
        else:
            request["expires"] = max(1_000_000, int(expires * 1e9))
        ended = False  # the server has ended the request: nothing more will come
        try:
            await self.nc.publish(
                f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}",
                json.dumps(request).encode(), reply=subscription.subject,
            )
            deadline = self._loop.time() + (expires or 0.0) + STALE_GRACE
            received = 0
            while received < batch:
                remaining = deadline - self._loop.time()
                if remaining <= 0:
                    return
                try:
                    delivery = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    return
                msg = delivery.msg
                status = status_of(msg)
                if status is not None:
                    ended = True
                    if status in ("404", "408", "409"):  # none, expired, consumer changed
                        return
                    raise BackendUnavailableError(
                        f"NATS refused a fetch from {stream}/{consumer}: {status} "
                        f"{(msg.headers or {}).get('Description', '')}")
                received += 1
                yield delivery
            ended = True
        finally:
            stale = True
            while not queue.empty():  # arrived after the caller stopped reading
                await self._stale(queue.get_nowait().msg)
            if ended:
                await subscription.unsubscribe()
            else:
                linger = (expires or 0.0) + STALE_GRACE
                self._loop.call_later(linger, lambda: asyncio.ensure_future(
                    _quietly(subscription.unsubscribe())))

    async def pull(
        self, stream: str, consumer: str, batch: int, expires: float | None,
    ) -> list[Delivery]:
        return [d async for d in self.pull_iter(stream, consumer, batch, expires)]

    async def pull_first(
        self, stream: str, consumers: list[str], expires: float,
    ) -> Delivery | None:
        """Wait up to ``expires`` for one delivery from any of ``consumers``; messages that
        arrive from the others meanwhile are stale (handed to ``on_stale``)."""
        tasks = [asyncio.ensure_future(self.pull(stream, c, 1, expires)) for c in consumers]
        try:
            for next_done in asyncio.as_completed(tasks):
                deliveries = await next_done
                if deliveries:
                    return deliveries[0]
            return None
        finally:
            for task in tasks:
                task.cancel()

    # ------------------------------------------------------------------ setup

    async def ensure_stream(self, stream: str, prefix: str) -> None:
        """The work-queue stream holding every subject under ``prefix``."""
        try:
            await self.js.stream_info(stream)
        except NotFoundError:
            await self.js.add_stream(StreamConfig(
                name=stream, subjects=[f"{prefix}.>"], retention=RetentionPolicy.WORK_QUEUE,
                storage=StorageType.FILE, duplicate_window=120.0,
            ))

    async def ensure_consumer(
        self, stream: str, name: str, subject: str, description: str,
        ack_wait: float | None,
    ) -> None:
        """A durable pull consumer; with ``ack_wait`` it is created or updated to it,
        without, an existing consumer is left as it is (default AckWait: 30 s)."""
        if ack_wait is None:
            try:
                await self.js.consumer_info(stream, name)
                return
            except NotFoundError:
                ack_wait = 30.0
        await self.js.add_consumer(stream, ConsumerConfig(
            durable_name=name, filter_subject=subject, ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL, ack_wait=ack_wait, max_deliver=-1,
            max_ack_pending=-1, description=description,
        ))

    # ------------------------------------------------------------------ reading

    async def subject_count(self, stream: str, subject: str) -> int:
        """Messages of ``subject`` stored in ``stream`` (delivered, unacknowledged ones too)."""
        info = await self.js.stream_info(stream, subjects_filter=subject)
        return sum((info.state.subjects or {}).values())

    async def subject_messages(self, stream: str, subject: str) -> list[tuple[int, bytes]]:
        """Every message of ``subject`` in ``stream``, oldest first, as (sequence, data),
        read directly from the stream: no consumer sees or is charged for them."""
        found: list[tuple[int, bytes]] = []
        seq = 1
        while True:
            try:
                raw = await self.js.get_msg(stream, seq, subject, next=True)
            except NotFoundError:
                return found
            found.append((raw.seq or seq, raw.data or b""))
            seq = (raw.seq or seq) + 1

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        if self._closed:
            return
        with contextlib.suppress(Exception):  # closing anyway
            self.call(self._close(), 10)
        self._closed = True
        self._stop_loop()

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await self.nc.flush(timeout=2)
        with contextlib.suppress(Exception):
            await self.nc.close()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    @property
    def closed(self) -> bool:
        return self._closed
