"""Claims behind future higher-priority tasks on PostgreSQL (see
benchmarks/claim_future.py): the future tasks go in with one INSERT ... SELECT over
``generate_series``, then VACUUM (ANALYZE) as autovacuum would do later."""

from __future__ import annotations

from benchmarks import claim_future
from taskbasket.backends.base import Backend
from taskbasket.backends.postgres import PostgresBackend


def _store(backend: Backend) -> PostgresBackend:
    if not isinstance(backend, PostgresBackend):
        raise TypeError(f"this scenario needs a PostgreSQL store, got {backend!r}")
    return backend


def load_future(backend: Backend, count: int) -> None:
    """``count`` scheduled tasks of priority 5, due a day from now; their ids sort before
    every real UUIDv7."""
    store = _store(backend)
    with store._connection() as conn:
        conn.execute(
            f"INSERT INTO {store.table} (id, name, queue, state, payload, priority, "
            "max_attempts, timeout, created_at, run_at) "
            "SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'noop', "
            "'default', 'scheduled', '{\"args\":[0],\"kwargs\":{}}', %s, 3, 300, now(), "
            "now() + %s * interval '1 second' FROM generate_series(1, %s) AS i",
            (claim_future.FUTURE_PRIORITY, claim_future.DAY, count),
        )
        conn.execute(f"VACUUM (ANALYZE) {store.table}")


def clear(backend: Backend) -> None:
    store = _store(backend)
    with store._connection() as conn:
        conn.execute(f"TRUNCATE {store.table} CASCADE")  # and the workflow edges


def run(url: str) -> dict[str, float]:
    return claim_future.run(url, load_future, clear)


if __name__ == "__main__":
    import sys

    print(run(sys.argv[1] if len(sys.argv) > 1 else
              "postgresql://postgres@127.0.0.1:5432/test?schema=tb_bench_claim_future"))
