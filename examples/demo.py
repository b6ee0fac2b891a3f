"""`make demo`: a producer enqueues a few thousand tasks into SQLite, two worker processes
work them off under a live progress bar, and a table sums up what happened."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent / ".demo"
URL = f"sqlite:///{DEMO}/demo.db"
os.environ["TASKBASKET_URL"] = URL
sys.path.insert(0, str(HERE))

from demo_app import basket, build_report, charge_expired_card, resize_image, send_email  # noqa: E402

from taskbasket import State  # noqa: E402

console = Console()


def main() -> None:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    console.rule("[bold]taskbasket demo[/] on SQLite, no server needed")
    started = time.monotonic()
    resize_image.enqueue_many([(i,) for i in range(2500)])
    send_email.enqueue_many([(f"user{i}@example.com",) for i in range(400)])
    for i in range(100):
        build_report.options(delay=0.5 + (i % 30) / 10).enqueue(i)
    charge_expired_card.enqueue("ACME Corp")
    total = basket.count()
    console.print(f"producer: enqueued {total} tasks in {time.monotonic() - started:.2f}s "
                  "(2,500 quick, 400 emails of which some fail once, 100 delayed reports, "
                  "1 that always fails)")

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]))
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "taskbasket", "worker", "demo_app:basket", "--url", URL,
             "--concurrency", "16", "--log-level", "ERROR", "--poll-interval", "0.2"],
            env=env, cwd=HERE,
        )
        for _ in range(2)
    ]
    console.print(f"workers: started 2 processes (pids {', '.join(str(w.pid) for w in workers)})")
    work_started = time.monotonic()
    try:
        with Progress(
            TextColumn("[bold]working"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=console,
        ) as progress:
            bar = progress.add_task("work", total=total, detail="")
            while True:
                counts = basket.counts_by_state()
                finished = sum(counts[s] for s in (State.SUCCEEDED, State.FAILED,
                                                   State.CANCELLED))
                detail = "  ".join(f"{s.value} {counts[s]}" for s in State if counts[s])
                progress.update(bar, completed=finished, detail=detail)
                if finished >= total:
                    break
                if any(w.poll() is not None for w in workers):
                    raise SystemExit("a worker exited unexpectedly")
                time.sleep(0.1)
        elapsed = time.monotonic() - work_started
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(30)

    tasks = basket.list(limit=10_000)
    retries = sum(max(0, t.attempts - 1) for t in tasks)
    counts = basket.counts_by_state()
    table = Table(title="what happened", header_style="bold")
    table.add_column("state")
    table.add_column("tasks", justify="right")
    for state in State:
        table.add_row(state.value, str(counts[state]))
    table.add_section()
    table.add_row("retries (extra attempts)", str(retries))
    table.add_row("throughput", f"{total / elapsed:,.0f} tasks/s")
    console.print(table)
    failed = basket.list(state="failed")
    for task in failed:
        last_line = (task.last_error or "").strip().splitlines()[-2]
        console.print(f"[red]failed[/] {task.name}{tuple(task.args)} after {task.attempts} "
                      f"attempts: {last_line}")
    console.print(f"\ninspect it yourself: .venv/bin/taskbasket --url {URL} ls --state failed")


if __name__ == "__main__":
    main()
