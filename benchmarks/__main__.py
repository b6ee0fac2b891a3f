"""Run the benchmarks: ``python -m benchmarks [--store sqlite,postgres,nats] [--quick]``.

For each store: single and batched enqueue rates; the drain of prefilled tasks by one
real `taskbasket worker` process (16 slots), from its launch to the last task done, for a
no-op handler and for a one-round-trip handler (one Redis ``INCR``), with the CPU per task
of the worker and of the store's server processes and the worker's RSS
(benchmarks/drain.py); and the pickup latency of an idle worker in another process (from
the task's creation to its start, both read from the store); the result round trip
(enqueue to ``ref.result()``, benchmarks/result_wait.py); the cancel of a running task
(to its handler seeing it, benchmarks/cancel_latency.py); flow control's cost and
fairness (benchmarks/flow.py); and the worker's resident
memory idle and after draining 20,000 and 100,000 tasks (benchmarks/memory.py). For each
bus (``amqp``,
``nats``): enqueue and drain rates, and the outbox relay's rate onto it (see
benchmarks/buses.py). Store-specific scenarios live in ``benchmarks/scenario_<store>_*.py``
as ``run(url) -> dict``. Prints a table and writes ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import pkgutil
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# PostgreSQL runs in a database of its own, so the server CPU counted is the benchmark's
PG_DATABASE = "tb_bench"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
os.environ.setdefault("TASKBASKET_TEST_POSTGRES",
                      f"postgresql://postgres@127.0.0.1:5432/{PG_DATABASE}")

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from tests.stores import SHARED_STORES, factory  # noqa: E402

from benchmarks import buses  # noqa: E402
from benchmarks.buses import BUSES  # noqa: E402
from benchmarks.cancel_latency import bench_cancel  # noqa: E402
from benchmarks.common import bench_enqueue, producer, start_worker, wait_until  # noqa: E402
from benchmarks.drain import bench_drain  # noqa: E402
from benchmarks.flow import bench_flow  # noqa: E402
from benchmarks.memory import bench_memory  # noqa: E402
from benchmarks.result_wait import bench_result  # noqa: E402
from benchmarks.servers import ServerCpu  # noqa: E402
from taskbasket import State  # noqa: E402

console = Console()

# the targets of the issues, per store: (metric, at least / at most, value)
TARGETS: dict[str, dict[str, tuple[str, float]]] = {
    "sqlite": {"enqueue_single_per_s": (">=", 5000), "enqueue_batch_per_s": (">=", 50000),
               "drain_noop_per_s": (">=", 10000), "pickup_p50_ms": ("<=", 10),
               "pickup_p99_ms": ("<=", 50), "process_speedup": (">=", 1.7)},
    "postgres": {"enqueue_single_per_s": (">=", 2000), "enqueue_batch_per_s": (">=", 50000),
                 "drain_noop_per_s": (">=", 8000), "pickup_p50_ms": ("<=", 5),
                 "pickup_p99_ms": ("<=", 25), "drain_incr_server_cpu_us": ("<=", 60),
                 "claim_p50_ms_1m_finished": ("<=", 50)},
    "mysql": {"enqueue_single_per_s": (">=", 1500), "enqueue_batch_per_s": (">=", 30000),
              "drain_noop_per_s": (">=", 4000)},
    "redis": {"enqueue_single_per_s": (">=", 8000), "enqueue_batch_per_s": (">=", 80000),
              "drain_noop_per_s": (">=", 10000), "pickup_p50_ms": ("<=", 2)},
    # BusConsumer.stop() waits for nothing (was a test's 50 ms budget)
    "amqp": {"consumer_stop_max_ms": ("<=", 50)},
    "nats": {"consumer_stop_max_ms": ("<=", 50)},
}
# issue 17: the worker's CPU per one-round-trip task (the job's own ~26 µs included)
for _targets in TARGETS.values():
    _targets["drain_incr_worker_cpu_us"] = ("<=", 100)
# issue #17 (claims): draining due tasks behind 1,000,000 future tasks of a higher
# priority at most 1.5x slower than with none, in either claim order
# (benchmarks/claim_future.py; TASKBASKET_BENCH_FUTURE_TASKS sets the count)
for _store in ("sqlite", "postgres", "mysql"):
    TARGETS[_store]["claim_future_slowdown"] = ("<=", 1.5)
    TARGETS[_store]["claim_created_future_slowdown"] = ("<=", 1.5)
# issue #19: enqueue to result of a no-op task, an idle worker in another process
# (benchmarks/result_wait.py); MySQL cannot push, so its waiters poll
for _store in ("sqlite", "postgres", "redis"):
    TARGETS[_store]["result_p50_ms"] = ("<=", 3)
TARGETS["mysql"]["result_p50_ms"] = ("<=", 150)
# issue #22: from basket.cancel to the running handler seeing it, its worker in another
# process (benchmarks/cancel_latency.py); MySQL cannot push, so its workers poll
for _store in ("sqlite", "postgres", "mysql", "redis"):
    TARGETS[_store]["cancel_p99_ms"] = ("<=", 1000)
# issue #20: limits that do not bind cost at most 10% of the drain rate; a quiet key's
# pickup p99 beside a noisy key of 10,000 tasks stays within 2x of idle (benchmarks/flow.py)
for _store in ("sqlite", "postgres", "mysql", "redis"):
    TARGETS[_store]["flow_limits_cost"] = (">=", 0.9)
    TARGETS[_store]["fair_quiet_pickup_p99_ratio"] = ("<=", 2)


def bench_pickup(url: str, samples: int) -> dict[str, float]:
    basket = producer(url)
    noop = basket.registry["noop"]
    basket.migrate()
    worker = start_worker(url, "--concurrency", "4", "--poll-interval", "1")
    latencies: list[float] = []
    try:
        ref = noop.enqueue(-1)
        wait_until(lambda: basket.get(ref.id).state == State.SUCCEEDED, 60)  # type: ignore[union-attr]
        for i in range(samples):
            time.sleep(random.uniform(0.01, 0.03))  # the worker is idle, waiting
            ref = noop.enqueue(i)
            wait_until(lambda: basket.get(ref.id).state == State.SUCCEEDED, 30)  # type: ignore[union-attr]  # noqa: B023
            task = basket.get(ref.id)
            assert task is not None and task.started_at is not None
            latencies.append((task.started_at - task.created_at).total_seconds() * 1000)
    finally:
        worker.terminate()
        worker.wait(30)
        basket.close()
    latencies.sort()
    return {"pickup_p50_ms": statistics.median(latencies),
            "pickup_p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


def scenarios(store: str) -> list[str]:
    folder = Path(__file__).parent
    return sorted(
        m.name for m in pkgutil.iter_modules([str(folder)])
        if m.name.startswith(f"scenario_{store}_")
    )


def ensure_pg_database() -> None:
    """Create the benchmark's PostgreSQL database when it is not there yet."""
    import psycopg

    if not os.environ["TASKBASKET_TEST_POSTGRES"].endswith(f"/{PG_DATABASE}"):
        return  # the user chose another server or database
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                             (PG_DATABASE,)).fetchone()
        if not found:
            conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')


def run_store(store: str, quick: bool) -> dict[str, float]:
    store_factory = factory(store)
    url = store_factory.create(f"bench_{os.getpid()}")
    results: dict[str, float] = {}
    try:
        results.update(bench_enqueue(url, 500 if quick else 3000, 10_000 if quick else 60_000,
                                     rounds=1 if quick else 3))
        server = ServerCpu(store, PG_ADMIN_URL, PG_DATABASE)
        for job in ("noop", "incr"):
            results.update(bench_drain(url, job, 3000 if quick else 20_000, server))
        results.update(bench_pickup(url, 30 if quick else 200))
        results.update(bench_result(url, 30 if quick else 200))
        results.update(bench_cancel(url, 20 if quick else 100))
        results.update(bench_flow(url, quick, server))
        results.update(bench_memory(url, [2_000, 10_000] if quick else [20_000, 100_000]))
        if not quick:
            for name in scenarios(store):
                module = importlib.import_module(f"benchmarks.{name}")
                results.update(module.run(url))
    finally:
        store_factory.drop(url)
    return results


def verdict(store: str, metric: str, value: float) -> str:
    target = TARGETS.get(store, {}).get(metric)
    if target is None:
        return ""
    op, bound = target
    ok = value >= bound if op == ">=" else value <= bound
    return f"[green]ok[/] ({op} {bound:g})" if ok else f"[red]MISSED[/] ({op} {bound:g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default=",".join(SHARED_STORES + BUSES),
                        help="comma-separated stores and buses (default: every one "
                             "reachable)")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(), "machine": platform.platform(),
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "load_start": os.getloadavg(), "stores": {},
    }
    load = ", ".join(f"{x:.1f}" for x in report["load_start"])
    table = Table(title=f"taskbasket benchmarks (load average at start {load})",
                  header_style="bold")
    for column in ("store", "metric", "value", "target"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for store in [s.strip() for s in args.store.split(",") if s.strip()]:
        is_bus = store in BUSES
        if store == "postgres":
            with contextlib.suppress(Exception):  # if it fails, the probe below says why
                ensure_pg_database()
        reason = buses.unavailable(store) if is_bus else factory(store).unavailable()
        if reason:
            console.print(f"[yellow]skipping {store}: {reason}[/]")
            continue
        console.print(f"benchmarking {store} ...")
        results = buses.run_bus(store, args.quick) if is_bus else run_store(store, args.quick)
        report["stores"][store] = results
        for metric, value in results.items():
            table.add_row(store, metric, f"{value:,.1f}", verdict(store, metric, value))
        table.add_section()
    report["load_end"] = os.getloadavg()
    console.print(table)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2)
    (out / "latest.json").write_text(text)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"bench-{stamp}.json").write_text(text)
    console.print(f"wrote {out / 'latest.json'}")


if __name__ == "__main__":
    main()
