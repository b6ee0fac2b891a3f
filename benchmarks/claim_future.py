"""Claims behind future tasks of a higher priority (issue #17): the drain rate of due
priority-0 tasks with none, then with N tasks of priority 5 scheduled a day ahead.

A claim must not walk past tasks that are not due yet, so the rate should not fall with
N: the slowdown (rate with none / rate with N) should stay <= 1.5 at N = 1,000,000.
N is ``TASKBASKET_BENCH_FUTURE_TASKS`` (default 1,000,000); each store's scenario
(``scenario_<store>_claim_future.py``) loads the future tasks with its fastest bulk
insert, straight in SQL. Each round enqueues the due tasks and drains them from one
thread with claims of 32 and a batched outcome per claim (no worker, no handler), first
in priority order, then in enqueue order (``ClaimOrder.CREATED``).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

from taskbasket import Basket
from taskbasket.backends.base import Backend, ClaimOrder, ClaimParams, Outcome, OutcomeKind

ROUNDS = 3  # the median is reported; a first, unmeasured round warms the caches
DUE_TASKS = 4000
FUTURE_PRIORITY = 5
DAY = 86_400.0


def future_tasks() -> int:
    """N: ``TASKBASKET_BENCH_FUTURE_TASKS``, 1,000,000 unless set."""
    return int(os.environ.get("TASKBASKET_BENCH_FUTURE_TASKS", "1000000"))


def drain_rate(basket: Basket, order: ClaimOrder, due_tasks: int, rounds: int) -> float:
    """Due tasks claimed and finished per second (the median round)."""
    backend = basket.backend
    params = ClaimParams(worker_id="bench", names=["noop"], limit=32, lease_seconds=60,
                         order=order)
    rates = []
    for _ in range(rounds + 1):
        basket.enqueue_many("noop", [(i,) for i in range(due_tasks)])
        done = 0
        start = time.perf_counter()
        while batch := backend.tasks_claim(params):
            backend.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in batch])
            done += len(batch)
        rates.append(done / (time.perf_counter() - start))
        if done != due_tasks:
            raise RuntimeError(f"drained {done} of {due_tasks} due tasks")
    return statistics.median(rates[1:])


def run(url: str, load_future: Callable[[Backend, int], None],
        clear: Callable[[Backend], None], count: int | None = None,
        due_tasks: int = DUE_TASKS, rounds: int = ROUNDS) -> dict[str, float]:
    """The scenario on the store at ``url``: ``load_future(backend, n)`` inserts n future
    tasks of priority 5 named ``noop``, ``clear(backend)`` empties the table."""
    count = future_tasks() if count is None else count
    basket = Basket(url)
    basket.migrate()
    backend = basket.backend
    results: dict[str, float] = {"claim_future_tasks": float(count)}
    try:
        clear(backend)
        empty = {order: drain_rate(basket, order, due_tasks, rounds) for order in ClaimOrder}
        start = time.perf_counter()
        load_future(backend, count)
        results["claim_future_load_s"] = time.perf_counter() - start
        loaded = {order: drain_rate(basket, order, due_tasks, rounds) for order in ClaimOrder}
    finally:
        clear(backend)
        basket.close()
    for order in ClaimOrder:
        tag = "" if order is ClaimOrder.PRIORITY else "_created"
        results[f"claim{tag}_per_s_no_future"] = empty[order]
        results[f"claim{tag}_per_s_behind_future"] = loaded[order]
        results[f"claim{tag}_future_slowdown"] = empty[order] / loaded[order]
    return results


__all__ = ["DAY", "FUTURE_PRIORITY", "drain_rate", "future_tasks", "run"]
