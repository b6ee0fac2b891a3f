"""taskbasket under `make compare`: the shared jobs as tasks of one Basket."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from benchmarks.compare.jobs import handlers
from benchmarks.compare.places import HANDLER, PG_URL, REDIS_URL, STORE, sqlite_path
from taskbasket import Basket


def store_url() -> str:
    """This case's store, in taskbasket's URL form."""
    if STORE == "postgres":
        return f"{PG_URL}?schema=tb_compare"
    if STORE == "redis":
        return f"{REDIS_URL}?prefix=tb_compare"
    if STORE == "sqlite":
        return f"sqlite:///{sqlite_path('taskbasket.db')}"
    return "memory://"  # imported for its metadata only (no COMPARE_STORE)


basket = Basket(store_url())
for _name, _function in handlers(HANDLER).items():
    basket.task(name=_name)(_function)


def version() -> str:
    import taskbasket

    root = Path(taskbasket.__file__).resolve().parents[2]
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    return f"{getattr(taskbasket, '__version__', 'dev')} ({commit or 'no git'})"


def setup() -> None:
    basket.migrate()


class Producer:
    def one(self, job: str, value: Any) -> None:
        basket.enqueue(job, (value,))

    def many(self, job: str, values: list[Any]) -> None:
        basket.enqueue_many(job, [(v,) for v in values])

    def close(self) -> None:
        basket.close()


def producer() -> Producer:
    return Producer()
