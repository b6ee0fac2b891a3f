"""Claim cost stays flat as finished tasks pile up: claim + finish on an empty table, then
again with 1,000,000 succeeded rows beside the pending ones.

Each round enqueues a batch of due tasks and drains it from one thread with claims of 32
and a batched outcome per claim, so the figure is the store's own cost of the hot path
(no worker threads, no handler). The ratio (with / without the million rows) should stay
near 1: the claim walks a partial index that holds pending tasks only. The median claim
of 32 beside the million rows should stay under 50 ms (it was a test's timed assertion;
the test keeps the plan check).
"""

from __future__ import annotations

import statistics
import time

from taskbasket import Basket
from taskbasket.backends.base import ClaimParams, Outcome, OutcomeKind
from taskbasket.backends.postgres import PostgresBackend

ROUNDS = 5  # the median is reported; a first, unmeasured round warms the caches
TASKS_PER_ROUND = 4000
FINISHED_ROWS = 1_000_000


def _drain_rate(basket: Basket, backend: PostgresBackend) -> tuple[float, float]:
    """(tasks claimed and finished per second, the median claim's milliseconds)."""
    params = ClaimParams(worker_id="bench", names=["noop"], limit=32, lease_seconds=60)
    rates, claims = [], []
    for round_ in range(ROUNDS + 1):
        basket.enqueue_many("noop", [(i,) for i in range(TASKS_PER_ROUND)])
        done = 0
        start = time.perf_counter()
        while True:
            claimed_at = time.perf_counter()
            batch = backend.tasks_claim(params)
            if round_:
                claims.append(time.perf_counter() - claimed_at)
            if not batch:
                break
            backend.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in batch])
            done += len(batch)
        rates.append(done / (time.perf_counter() - start))
    return statistics.median(rates[1:]), statistics.median(claims) * 1000


def _load_finished(backend: PostgresBackend, rows: int) -> None:
    """Succeeded rows straight in SQL; their ids sort before every real UUIDv7."""
    with backend._connection() as conn:
        conn.execute(
            f"INSERT INTO {backend.table} (id, name, queue, state, payload, max_attempts, "
            "timeout, created_at, run_at, started_at, finished_at) "
            "SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'noop', "
            "'default', 'succeeded', '[[0], {}]', 3, 300, now(), now(), now(), now() "
            "FROM generate_series(1, %s) AS i",
            (rows,),
        )
        conn.execute(f"VACUUM (ANALYZE) {backend.table}")  # as autovacuum would, later


def run(url: str) -> dict[str, float]:
    basket = Basket(url)
    backend = basket.backend
    if not isinstance(backend, PostgresBackend):
        raise TypeError(f"this scenario needs a PostgreSQL store, got {url!r}")
    basket.migrate()
    try:
        with backend._connection() as conn:
            conn.execute(f"TRUNCATE {backend.table} CASCADE")  # and the workflow edges
        empty, _ = _drain_rate(basket, backend)
        start = time.perf_counter()
        _load_finished(backend, FINISHED_ROWS)
        load_seconds = time.perf_counter() - start
        loaded, claim_ms = _drain_rate(basket, backend)
    finally:
        with backend._connection() as conn:
            conn.execute(f"TRUNCATE {backend.table} CASCADE")  # and the workflow edges
        basket.close()
    return {
        "claim_per_s_empty": empty,
        "claim_per_s_1m_finished": loaded,
        "ratio": loaded / empty,
        "claim_p50_ms_1m_finished": claim_ms,
        "load_1m_finished_s": load_seconds,
    }


if __name__ == "__main__":
    import sys

    print(run(sys.argv[1] if len(sys.argv) > 1 else
              "postgresql://postgres@127.0.0.1:5432/test?schema=tb_bench_claim_flat"))
