"""Benchmarks of the message buses (``amqp``, ``nats``) and of the outbox relay onto them.

A bus keeps no finished tasks, so the drain rate is read off the queue: the ready count
is sampled every 10 ms while one worker process (32 slots) takes no-op tasks, from the
first task it takes to the moment none is left (the last few in flight are not waited
for). The relay figure is ``Relay.run_until_empty`` moving tasks from a SQLite outbox,
and from PostgreSQL when it is reachable, onto the bus. The consumer figure is how long
``BusConsumer.stop()`` takes while three threads wait in ``receive``.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from typing import Any

from tests.bus import bus_url, drop
from tests.bus import unavailable as bus_unavailable
from tests.stores import factory

from benchmarks.common import bench_enqueue, producer, start_worker, wait_until
from taskbasket import Basket
from taskbasket.relay import Relay
from taskbasket.transports.consumer import BusConsumer

BUSES = ["amqp", "nats"]
STOP_QUEUE = "bench_stop"


def unavailable(bus: str) -> str | None:
    return bus_unavailable(bus)


def bench_drain(url: str) -> dict[str, float]:
    basket = producer(url)
    ready = basket.count(state="queued")
    worker = start_worker(url, "--concurrency", "32", "--queues", "default")
    try:
        wait_until(lambda: basket.count(state="queued") < ready, 60)
        first, left = time.perf_counter(), basket.count(state="queued")
        while left:
            time.sleep(0.01)
            left = basket.count(state="queued")
        elapsed = time.perf_counter() - first
    finally:
        worker.terminate()
        worker.wait(30)
        basket.close()
    return {"drain_per_s": ready / elapsed}


def bench_consumer_stop(url: str, rounds: int) -> dict[str, float]:
    """``BusConsumer.stop()`` with three threads waiting in ``receive`` for a message that
    never comes: it should return at once (it waits for nothing)."""
    timings = []
    for _ in range(rounds):
        consumer = BusConsumer(url, STOP_QUEUE, prefetch=3)
        receivers = [threading.Thread(target=consumer.receive, daemon=True) for _ in range(3)]
        for thread in receivers:
            thread.start()
        wait_until(lambda consumer=consumer: consumer._held == 3, 30)
        start = time.perf_counter()
        consumer.stop()
        timings.append((time.perf_counter() - start) * 1000)
        for thread in receivers:
            thread.join(10)
        consumer.join(10)
    return {"consumer_stop_p50_ms": statistics.median(timings),
            "consumer_stop_max_ms": max(timings)}


def bench_relay(bus_url_: str, store: str, count: int, tag: str) -> dict[str, float]:
    store_factory = factory(store)
    if store_factory.unavailable():
        return {}
    source = store_factory.create(f"relay_{tag}")
    try:
        outbox = Basket(source)
        for offset in range(0, count, 5000):
            outbox.enqueue_many("noop", [(i,) for i in range(offset, min(count, offset + 5000))])
        outbox.close()
        relay = Relay(source, bus_url_)
        try:
            start = time.perf_counter()
            moved = relay.run_until_empty(timeout=600)
            elapsed = time.perf_counter() - start
        finally:
            relay.close()
        assert moved == count, f"the relay moved {moved} of {count}"
    finally:
        store_factory.drop(source)
    return {f"relay_from_{store}_per_s": count / elapsed}


def run_bus(bus: str, quick: bool) -> dict[str, Any]:
    tag = f"bench_{os.getpid()}"
    url = bus_url(bus, tag)
    results: dict[str, float] = {}
    try:
        results.update(bench_enqueue(url, 300 if quick else 2000, 2000 if quick else 10_000, 1000,
                                     rounds=1))
        results.update(bench_drain(url))
        results.update(bench_consumer_stop(url, 5 if quick else 30))
        count = 2000 if quick else 10_000
        for store in ("sqlite", "postgres"):
            results.update(bench_relay(url, store, count, tag))
    finally:
        drop(bus, url, ("default", STOP_QUEUE))
    return results
