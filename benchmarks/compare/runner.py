"""One producer-side step of a case, run in the system's own interpreter.

``python -m benchmarks.compare.runner SYSTEM ACTION [ARGS]`` imports
``benchmarks/compare/systems/SYSTEM_app.py`` and writes its answer as JSON into the file
``$COMPARE_RESULT``. Actions: ``version``; ``setup`` (create the system's schema);
``enqueue SINGLE BATCH ROUNDS`` (rates of one-at-a-time and batched enqueue of no-op
tasks, the best of ROUNDS rounds as ``timeit`` reports); ``prefill JOB COUNT`` (one at a
time where the system has no batch API, reopening the producer when a neighbour on the
shared server cuts its connection: at most one duplicate each time); ``pickup SAMPLES``
(with a worker idle, the delay from each enqueue call to the task's start, in ms). An
app's ``producer()`` is sync or async with methods to match: ``one(job, value)``,
``many(job, values)`` (``None`` when the system has no batch enqueue) and ``close()``.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import random
import sys
import time
from contextlib import suppress
from typing import Any

from benchmarks.compare.jobs import PICKUP_KEY, async_redis, sync_redis

CHUNK = 1000  # tasks per batched enqueue call
REOPENS = 3  # a one-at-a-time prefill reopens its producer this often (shared servers)


def _chunks(count: int) -> list[list[int]]:
    return [list(range(o, min(count, o + CHUNK))) for o in range(0, count, CHUNK)]


def sync_step(
    producer: Any, action: str, args: list[str], reopen: Any
) -> dict[str, Any]:
    if action == "enqueue":
        return _sync_enqueue(producer, *(int(a) for a in args))
    if action == "prefill":
        _sync_prefill(producer, args[0], int(args[1]), reopen)
        return {}
    if action == "pickup":
        return {"pickup_ms": _sync_pickup(producer, int(args[0]))}
    raise ValueError(f"unknown action {action!r}: choose enqueue, prefill or pickup")


def _sync_enqueue(producer: Any, single: int, batch: int, rounds: int) -> dict[str, Any]:
    producer.one("noop", 0)  # connect outside the timing
    singles, batches = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(single):
            producer.one("noop", i)
        singles.append(single / (time.perf_counter() - start))
        if producer.many is not None:
            start = time.perf_counter()
            for chunk in _chunks(batch):
                producer.many("noop", chunk)
            batches.append(batch / (time.perf_counter() - start))
    return {"enqueue_per_s": max(singles),
            "batch_enqueue_per_s": max(batches) if batches else None}


def _sync_prefill(producer: Any, job: str, count: int, reopen: Any) -> None:
    for chunk in _chunks(count):
        if producer.many is not None:
            producer.many(job, chunk)
            continue
        for value in chunk:
            for attempt in range(REOPENS + 1):
                try:
                    producer.one(job, value)
                    break
                except Exception:  # a neighbour cut the connection: reopen, go on
                    if attempt == REOPENS:
                        raise
                    with suppress(Exception):
                        producer.close()
                    producer = reopen()


def _sync_pickup(producer: Any, samples: int) -> list[float]:
    client = sync_redis()
    delays = []
    for sample in range(samples + 1):  # the first one warms the worker up
        time.sleep(random.uniform(0.01, 0.03))  # the worker is idle, waiting
        producer.one("pickup", time.time())
        found = client.blpop([PICKUP_KEY], timeout=30)
        if found is None:
            raise TimeoutError("a pickup task did not start within 30 s")
        if sample:
            delays.append(float(found[1]) * 1000)
    return delays


async def async_step(
    producer: Any, action: str, args: list[str], reopen: Any
) -> dict[str, Any]:
    if action == "enqueue":
        return await _async_enqueue(producer, *(int(a) for a in args))
    if action == "prefill":
        await _async_prefill(producer, args[0], int(args[1]), reopen)
        return {}
    if action == "pickup":
        return {"pickup_ms": await _async_pickup(producer, int(args[0]))}
    raise ValueError(f"unknown action {action!r}: choose enqueue, prefill or pickup")


async def _async_enqueue(producer: Any, single: int, batch: int, rounds: int) -> dict[str, Any]:
    await producer.one("noop", 0)  # connect outside the timing
    singles, batches = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(single):
            await producer.one("noop", i)
        singles.append(single / (time.perf_counter() - start))
        if producer.many is not None:
            start = time.perf_counter()
            for chunk in _chunks(batch):
                await producer.many("noop", chunk)
            batches.append(batch / (time.perf_counter() - start))
    return {"enqueue_per_s": max(singles),
            "batch_enqueue_per_s": max(batches) if batches else None}


async def _async_prefill(producer: Any, job: str, count: int, reopen: Any) -> None:
    for chunk in _chunks(count):
        if producer.many is not None:
            await producer.many(job, chunk)
            continue
        for value in chunk:
            for attempt in range(REOPENS + 1):
                try:
                    await producer.one(job, value)
                    break
                except Exception:  # a neighbour cut the connection: reopen, go on
                    if attempt == REOPENS:
                        raise
                    with suppress(Exception):
                        await producer.close()
                    producer = await reopen()


async def _async_pickup(producer: Any, samples: int) -> list[float]:
    client = async_redis()
    delays = []
    for sample in range(samples + 1):  # the first one warms the worker up
        await asyncio.sleep(random.uniform(0.01, 0.03))  # the worker is idle, waiting
        await producer.one("pickup", time.time())
        found = await client.blpop([PICKUP_KEY], timeout=30)
        if found is None:
            raise TimeoutError("a pickup task did not start within 30 s")
        if sample:
            delays.append(float(found[1]) * 1000)
    return delays


async def _run_async(module: Any, action: str, args: list[str]) -> dict[str, Any]:
    producer = await module.producer()
    try:
        return await async_step(producer, action, args, module.producer)
    finally:
        await producer.close()


def run(system: str, action: str, args: list[str]) -> dict[str, Any]:
    """Do ``action`` for ``system`` in this process; the answer as a dict."""
    module = importlib.import_module(f"benchmarks.compare.systems.{system}_app")
    if action == "version":
        return {"version": module.version(), "python": sys.version.split()[0]}
    if action == "setup":
        module.setup()
        return {}
    if inspect.iscoroutinefunction(module.producer):
        return asyncio.run(_run_async(module, action, args))
    producer = module.producer()
    try:
        return sync_step(producer, action, args, module.producer)
    finally:
        producer.close()


def main() -> None:
    system, action, *args = sys.argv[1:]
    answer = run(system, action, args)
    with open(os.environ["COMPARE_RESULT"], "w") as out:
        json.dump(answer, out)


if __name__ == "__main__":
    main()
