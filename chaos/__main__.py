"""``python -m chaos [--store sqlite,postgres] [--tasks 20000] [--workers 4]``.

For each store: enqueue the tasks, run worker processes while killing a random one every
0.5-2 s (and, for server stores, cutting the workers' connections every few seconds and
restarting the server once), then audit: every task succeeded, none lost, none stuck
running, and how many ran more than once. Prints a table and writes chaos/results/.
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
from tests.stores import STORES, factory  # noqa: E402

from chaos.run import ChaosConfig, run_chaos  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default=",".join(STORES))
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    console = Console(width=max(150, Console().width))
    config = ChaosConfig(tasks=args.tasks, workers=args.workers)
    reports = []
    for store in [s.strip() for s in args.store.split(",") if s.strip()]:
        reason = factory(store).unavailable()
        if reason:
            console.print(f"[yellow]skipping {store}: {reason}[/]")
            continue
        reports.append(run_chaos(store, config, say=console.print))
    table = Table(title="taskbasket chaos", header_style="bold")
    for column in ("store", "tasks", "succeeded", "lost", "stuck", "worker kills",
                   "connection cuts", "server restarts", "executions", "duplicates",
                   "seconds", "verdict"):
        table.add_column(column, justify="right")
    for r in reports:
        table.add_row(r.store, str(r.tasks), str(r.succeeded), str(r.lost), str(r.stuck),
                      str(r.kills), str(r.connection_cuts), str(r.server_restarts),
                      str(r.executions), str(r.duplicates), f"{r.seconds:.0f}",
                      "[green]pass[/]" if r.passed else "[red]FAIL[/]")
    console.print(table)
    out = ROOT / "chaos" / "results"
    out.mkdir(parents=True, exist_ok=True)
    data = {"when": datetime.now(UTC).isoformat(), "config": vars(config),
            "stores": {r.store: r.as_dict() for r in reports}}
    (out / "latest.json").write_text(json.dumps(data, indent=2, default=str))
    console.print(f"wrote {out / 'latest.json'}")
    return 0 if reports and all(r.passed for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
