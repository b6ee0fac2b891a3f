"""Claims behind future higher-priority tasks on SQLite (see benchmarks/claim_future.py):
the future tasks go in with one INSERT ... SELECT over a recursive counter. No ANALYZE
follows, as the store runs none: with statistics, SQLite may skip-scan the few priorities."""

from __future__ import annotations

import time

from benchmarks import claim_future
from taskbasket.backends.base import Backend
from taskbasket.backends.sqlite import TABLE, SQLiteBackend


def _store(backend: Backend) -> SQLiteBackend:
    if not isinstance(backend, SQLiteBackend):
        raise TypeError(f"this scenario needs a SQLite store, got {backend!r}")
    return backend


def load_future(backend: Backend, count: int) -> None:
    """``count`` scheduled tasks of priority 5, due a day from now; their ids sort before
    every real UUIDv7."""
    now = time.time()
    with _store(backend)._connections.write() as conn:
        conn.execute(
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            f"INSERT INTO {TABLE} (id, name, queue, state, payload, priority, max_attempts, "
            "timeout, created_at, run_at) "
            "SELECT printf('00000000-0000-7000-8000-%012x', i), 'noop', 'default', "
            "'scheduled', '{\"args\":[0],\"kwargs\":{}}', ?, 3, 300, ?, ? FROM n",
            (count, claim_future.FUTURE_PRIORITY, now, now + claim_future.DAY),
        )


def clear(backend: Backend) -> None:
    with _store(backend)._connections.write() as conn:
        conn.execute(f"DELETE FROM {TABLE}")


def run(url: str) -> dict[str, float]:
    return claim_future.run(url, load_future, clear)


if __name__ == "__main__":
    import sys

    print(run(sys.argv[1] if len(sys.argv) > 1 else "sqlite:////tmp/tb_bench_claim_future.db"))
