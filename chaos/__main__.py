"""``python -m chaos [--store sqlite,postgres,...] [--tasks 20000] [--workers 4] [--seed N]
[--redis-fsync always,everysec] [--no-restart] [--clean-restart]``.

For each store: enqueue part of the tasks, start worker processes, enqueue the rest while
they run, and SIGKILL a worker every 0.5-2 s (seeded: the seed is printed, and
``--seed`` replays the schedule). On a server store, cut the round's own connections
every few seconds; where tests/servers has a private server for the store (Redis with
an append-only file, MariaDB, RabbitMQ, NATS), run on one and crash and restart it once
mid-run. The shared servers are never restarted. Then audit every acknowledged id:
stored, succeeded, with its effect, none stuck running, some interrupted. Prints a
table and writes chaos/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from tests.stores import SHARED_STORES, factory  # noqa: E402

from chaos.audit import ChaosReport  # noqa: E402
from chaos.run import ChaosConfig, run_chaos  # noqa: E402
from chaos.targets import BUSES, can_be_private  # noqa: E402

COLUMNS = ("store", "server", "seed", "tasks", "succeeded", "lost", "stuck", "unacked",
           "worker kills", "interrupted", "cuts", "restarts", "down s", "executions",
           "duplicates", "seconds", "verdict")


def _row(r: ChaosReport) -> list[str]:
    stuck = str(r.stuck) if r.records else "n/a"
    return [r.store, r.server, str(r.seed), str(r.tasks), str(r.succeeded), str(r.lost),
            stuck, str(r.unacknowledged), str(r.kills), str(r.interrupted),
            str(r.connection_cuts), str(r.server_restarts), f"{r.downtime:.1f}",
            str(r.executions), str(r.duplicates), f"{r.seconds:.0f}",
            "[green]pass[/]" if r.passed else f"[red]FAIL[/] {'; '.join(r.problems())}"]


def _unavailable(store: str, restart: bool) -> str | None:
    if restart and can_be_private(store):
        from tests.servers import TOOLS, missing_tools

        missing = missing_tools(*TOOLS[store])
        return f"a private server needs {', '.join(missing)}" if missing else None
    if store in BUSES:
        from tests.bus import unavailable

        return unavailable(store)
    return factory(store).unavailable()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default=",".join([*SHARED_STORES, *BUSES]))
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--redis-fsync", default="always,everysec",
                        help="appendfsync of the private Redis; a list runs Redis once each")
    parser.add_argument("--no-restart", action="store_true",
                        help="run on the shared servers and restart nothing")
    parser.add_argument("--clean-restart", action="store_true",
                        help="restart servers with a clean shutdown instead of SIGKILL")
    args = parser.parse_args()
    console = Console(width=max(180, Console().width))
    restart = not args.no_restart

    def say(message: str) -> None:
        console.print(message, markup=False, highlight=False)

    reports = []
    for store in [s.strip() for s in args.store.split(",") if s.strip()]:
        reason = _unavailable(store, restart)
        if reason:
            console.print(f"[yellow]skipping {store}: {reason}[/]")
            continue
        policies = args.redis_fsync.split(",") if store == "redis" and restart else ["always"]
        for policy in policies:
            config = ChaosConfig(tasks=args.tasks, workers=args.workers, seed=args.seed,
                                 restart_server=restart, restart_crash=not args.clean_restart,
                                 redis_fsync=policy.strip())
            reports.append(run_chaos(store, config, say=say))
    table = Table(title="taskbasket chaos", header_style="bold")
    for column in COLUMNS:
        table.add_column(column, justify="right")
    for report in reports:
        table.add_row(*_row(report))
    console.print(table)
    out = ROOT / "chaos" / "results"
    out.mkdir(parents=True, exist_ok=True)
    data = {"when": datetime.now(UTC).isoformat(), "argv": sys.argv[1:],
            "reports": [r.as_dict() for r in reports]}
    (out / "latest.json").write_text(json.dumps(data, indent=2, default=str))
    console.print(f"wrote {out / 'latest.json'}")
    return 0 if reports and all(r.passed for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
