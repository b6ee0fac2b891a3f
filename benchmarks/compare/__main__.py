"""`make compare`: taskbasket side by side with its peers, the same job, one run.

``python -m benchmarks.compare [--quick] [--systems a,b] [--stores postgres,redis,sqlite]``
runs, for each store and each system that supports it (taskbasket with sync and with
async handlers; each peer with its own kind), enqueue and batched enqueue rates, the
drain of prefilled no-op tasks and of one-Redis-``INCR`` tasks by one worker process
(from its launch to the last task done) and the pickup latency of an idle worker. It
prints one table with taskbasket's ratios to the best peer per store and writes
``compare-latest.json`` and a dated copy into ``benchmarks/results/``. The peers run in
``benchmarks/compare/.venv`` (``make compare`` installs it from requirements.txt);
taskbasket runs in this interpreter. docs/performance.md has the method and a result.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import shutil
import signal
import sqlite3
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks.compare import places
from benchmarks.compare.cases import (
    FULL,
    QUICK,
    ROOT,
    Case,
    Counts,
    fresh_store,
    measure,
    step,
)
from benchmarks.compare.private_redis import PORT, private_redis
from benchmarks.compare.report import ratios, table
from benchmarks.compare.systems import SYSTEMS, System, system

STORES = ("postgres", "redis", "sqlite")
PEERS_PYTHON = ROOT / "benchmarks" / "compare" / ".venv" / "bin" / "python"
LOCK = Path("/tmp/taskbasket-compare.lock")
console = Console(width=max(170, shutil.get_terminal_size().columns))


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory = Path("/proc/meminfo").read_text().split()[1]
    except OSError:
        memory = "0"
    return {"platform": platform.platform(), "cpu": model, "cpus": os.cpu_count(),
            "memory_gb": round(int(memory) / 2**20, 1), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version}


def servers(stores: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    if "postgres" in stores:
        import psycopg

        with psycopg.connect(places.PG_ADMIN_URL) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            found["postgres"] = str(row[0]) if row else "?"
    import redis  # the jobs' Redis, whatever the stores

    client = redis.Redis.from_url(places.REDIS_URL)
    found["redis"] = str(client.info("server")["redis_version"])
    client.close()
    return found


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {QUICK.drain:,} tasks per drain, one round")
    parser.add_argument("--systems", default=",".join(s.name for s in SYSTEMS),
                        help="comma-separated systems (default: all)")
    parser.add_argument("--stores", default=",".join(STORES),
                        help="comma-separated stores among postgres, redis, sqlite")
    parser.add_argument("--peers-python", default=str(PEERS_PYTHON),
                        help="the interpreter of the peers' venv (make compare makes it)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"),
                        help="folder for the JSON results and the workers' logs")
    parser.add_argument("--shared-redis", action="store_true",
                        help="use database 13 of the shared Redis at 127.0.0.1:6379 instead "
                             "of a redis-server of the run's own on port 6391")
    parser.add_argument("--count", type=int, default=None,
                        help="tasks per drain (overrides the default or --quick's)")
    parser.add_argument("--samples", type=int, default=None, help="pickup samples")
    return parser.parse_args(argv)


def plan(args: argparse.Namespace) -> tuple[list[System], list[str]]:
    chosen = [system(name.strip()) for name in args.systems.split(",") if name.strip()]
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    for store in stores:
        if store not in STORES:
            raise SystemExit(f"unknown store {store!r}: choose among {', '.join(STORES)}")
    if any(s.peer for s in chosen) and not Path(args.peers_python).exists():
        raise SystemExit(f"no peers' venv at {args.peers_python}: run `make compare`, "
                         "which installs benchmarks/compare/requirements.txt there, or pass "
                         "--systems taskbasket")
    return chosen, stores


def _stopped(signum: int, frame: object) -> None:
    """SIGTERM ends the run through the ``finally`` blocks: the worker and the private
    Redis stop, and the figures so far stay in compare-partial.json."""
    raise SystemExit(f"stopped by signal {signum}; the figures so far: compare-partial.json")


def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The whole comparison; returns the report it wrote."""
    args = parse(argv)
    chosen, stores = plan(args)
    counts: Counts = QUICK if args.quick else FULL
    if args.count:
        counts = replace(counts, drain=args.count, single=min(counts.single, args.count),
                         batch=min(counts.batch, args.count * 10))
    if args.samples:
        counts = replace(counts, pickup=args.samples)
    signal.signal(signal.SIGTERM, _stopped)
    with ExitStack() as stack:
        lock = stack.enter_context(open(LOCK, "a"))
        if set(stores) & {"postgres", "redis"} or not args.shared_redis:
            try:  # one database, one Redis number, one private port a machine
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SystemExit(f"another `make compare` holds {LOCK}: wait for it") from None
        if not args.shared_redis:
            server = stack.enter_context(private_redis(PORT))
            places.use_redis(f"127.0.0.1:{PORT}", server.pid)
        return _run(args, chosen, stores, counts)


def _run(args: argparse.Namespace, chosen: list[System], stores: list[str],
         counts: Counts) -> dict[str, Any]:
    out = Path(args.out)
    logs = out / "compare-logs"
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
        "servers": servers(stores),
        "redis": ("the shared server, database 13" if args.shared_redis
                  else f"the run's own redis-server on port {PORT}, database 13"),
        "counts": counts.__dict__, "load_start": os.getloadavg(),
        "systems": {}, "stores": {},
    }
    for store in stores:
        rows: list[dict[str, Any]] = []
        for candidate in chosen:
            if store not in candidate.stores:
                continue
            python = args.peers_python if candidate.peer else sys.executable
            for index, handler in enumerate(candidate.handlers):
                case = Case(candidate, store, handler, python, logs)
                if candidate.name not in report["systems"]:
                    with fresh_store(case):
                        found = step(case, "version")
                    report["systems"][candidate.name] = {
                        **found, "settings": candidate.settings,
                        "worker": " ".join(candidate.worker)}
                label = candidate.name + (f" {handler}" if not candidate.peer else "")
                console.print(f"{store}: {label} ...")
                results = measure(case, counts, with_enqueue=index == 0)
                for part, error in results.get("errors", {}).items():
                    console.print(f"[red]  {part}: {error}[/]")
                rows.append({"system": candidate.name, "handler": handler, "label": label,
                             "peer": candidate.peer, "results": results})
                report["stores"][store] = {"rows": rows}
                out.mkdir(parents=True, exist_ok=True)
                (out / "compare-partial.json").write_text(json.dumps(report, indent=2))
        report["stores"][store] = {
            "rows": rows, "ratios": {h: ratios(rows, h) for h in ("sync", "async")}}
    report["load_end"] = os.getloadavg()
    load = ", ".join(f"{x:.1f}" for x in report["load_start"])
    console.print(table({s: v["rows"] for s, v in report["stores"].items()},
                        f"make compare, {report['when']} (load average at start {load})"))
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2)
    (out / "compare-latest.json").write_text(text)
    stamp = report["when"].replace("-", "").replace(":", "").replace("+0000", "Z")
    (out / f"compare-{stamp}.json").write_text(text)
    console.print(f"wrote {out / 'compare-latest.json'}")
    return report


if __name__ == "__main__":
    run()
