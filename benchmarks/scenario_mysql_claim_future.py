"""Claims behind future higher-priority tasks on MySQL/MariaDB (see
benchmarks/claim_future.py): the future tasks go in with INSERT ... SELECT over a
cross join of digits, 100,000 rows a statement."""

from __future__ import annotations

from typing import Any

from benchmarks import claim_future
from taskbasket.backends.base import Backend
from taskbasket.backends.mysql import MySQLBackend

CHUNK = 100_000
_DIGITS = "(SELECT 0 d UNION ALL " + " UNION ALL ".join(f"SELECT {d}" for d in range(1, 10)) + ")"
_NUMBERS = (  # 0 .. 99,999
    f"SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d AS i FROM {_DIGITS} a, "
    f"{_DIGITS} b, {_DIGITS} c, {_DIGITS} e, {_DIGITS} f"
)


def _store(backend: Backend) -> MySQLBackend:
    if not isinstance(backend, MySQLBackend):
        raise TypeError(f"this scenario needs a MySQL store, got {backend!r}")
    return backend


def load_future(backend: Backend, count: int) -> None:
    """``count`` scheduled tasks of priority 5, due a day from now; their ids sort before
    every real UUIDv7."""
    store = _store(backend)
    for start in range(0, count, CHUNK):
        rows = min(CHUNK, count - start)
        store._read(
            f"INSERT INTO {store.table} (id, name, queue, state, payload, priority, "
            "max_attempts, timeout, created_at, run_at) "
            "SELECT UNHEX(LPAD(HEX(n.i + %s), 32, '0')), 'noop', 'default', 'scheduled', "
            "'{\"args\":[0],\"kwargs\":{}}', %s, 3, 300, UTC_TIMESTAMP(6), "
            f"UTC_TIMESTAMP(6) + INTERVAL %s SECOND FROM ({_NUMBERS}) n WHERE n.i < %s",
            (start + 1, claim_future.FUTURE_PRIORITY, int(claim_future.DAY), rows),
        )
    store._read(f"ANALYZE TABLE {store.table}")


def clear(backend: Backend) -> None:
    """Empty the tasks table, and the workflow edges that reference it (TRUNCATE refuses a
    table an enabled foreign key points at, so the checks are off for this session)."""
    store = _store(backend)

    def work(cur: Any) -> None:
        cur.execute("SET FOREIGN_KEY_CHECKS = 0")
        try:
            cur.execute(f"TRUNCATE TABLE {store.settings.dependencies_table}")
            cur.execute(f"TRUNCATE TABLE {store.table}")
        finally:
            cur.execute("SET FOREIGN_KEY_CHECKS = 1")

    store._run(work, transaction=False, idempotent=True)


def run(url: str) -> dict[str, float]:
    return claim_future.run(url, load_future, clear)


if __name__ == "__main__":
    import sys

    print(run(sys.argv[1] if len(sys.argv) > 1 else "mysql://root@127.0.0.1:3306/test"))
