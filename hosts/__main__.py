"""``python -m hosts`` (``make hosts``): every scenario on every store, a table each, and
the figures as JSON in hosts/results/. ``--short`` runs the quick versions (as the tests
do); ``--stores`` and ``--scenarios`` narrow the run."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hosts import contention, latency, outage, partition, skew
from hosts.net import why_unavailable
from hosts.servers import STORES, missing

SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "latency": latency.run, "partition": partition.run, "outage": outage.run,
    "skew": skew.run, "contention": contention.run,
}
RESULTS = Path(__file__).resolve().parent / "results"
SUMMARY = {
    "latency": ["share_at_5ms"],
    "partition": ["cut_seconds", "late_outcomes_refused", "duplicates",
                  "rejoined_seconds_after_reconnect"],
    "outage": ["enqueue_failures_during_cut", "workers_resumed_seconds_after",
               "outage_log_lines"],
    "skew": ["skew", "skewed_host_clock_offset_s", "delayed_started_early",
             "done_by_skewed_host"],
    "contention": ["capacity"],
}


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain text table of ``columns`` of ``rows``."""
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hosts", description=__doc__)
    parser.add_argument("--stores", default=",".join(STORES))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--short", action="store_true")
    args = parser.parse_args(argv)
    reason = why_unavailable()
    if reason is not None:
        print(f"hosts: skipped: {reason}")
        return 0
    RESULTS.mkdir(exist_ok=True)
    reports: list[dict[str, Any]] = []
    for scenario in args.scenarios.split(","):
        for store in args.stores.split(","):
            lacking = missing(store)
            if lacking is not None:
                print(f"hosts: {scenario} on {store} skipped: {lacking}", flush=True)
                continue
            began = time.monotonic()
            try:
                report = SCENARIOS[scenario](store, short=args.short)
            except Exception as exc:  # one scenario's failure is a row, not the run's end
                report = {"scenario": scenario, "store": store, "passed": False,
                          "error": f"{type(exc).__name__}: {exc}"}
            report["seconds"] = round(time.monotonic() - began, 1)
            reports.append(report)
            (RESULTS / f"{scenario}-{store}.json").write_text(json.dumps(report, indent=2,
                                                                          default=str))
            print(f"hosts: {scenario} on {store}: "
                  f"{'passed' if report['passed'] else 'FAILED'} ({report['seconds']}s) "
                  + json.dumps({k: report.get(k) for k in
                                [*SUMMARY.get(scenario, []), "lost", "stuck", "error"]
                                if k in report}, default=str), flush=True)
    _print_tables(reports)
    return 0 if all(r["passed"] for r in reports) else 1


def _print_tables(reports: list[dict[str, Any]]) -> None:
    lat = [row for r in reports if r["scenario"] == "latency" for row in r.get("rows", [])]
    if lat:
        print("\nlatency: one worker draining no-op tasks\n" + table(lat, [
            "store", "rtt_ms", "measured_rtt_ms", "settings", "tasks_per_s",
            "share_of_loopback", "round_trips_per_task", "client_cpu_ms_per_task",
            "store_cpu_ms_per_task", "lost", "stuck"]))
    cont = [row for r in reports if r["scenario"] == "contention" for row in r.get("rows", [])]
    if cont:
        print("\ncontention and capacity: 1, 2, 3 worker hosts on one store\n" + table(cont, [
            "store", "hosts", "tasks_per_s", "store_cpu_ms_per_task", "tasks_per_store_core_s",
            "round_trips_per_task", "bytes_per_task", "client_cpu_ms_per_task", "lost",
            "stuck"]))
    faults = [r for r in reports if r["scenario"] in ("partition", "outage", "skew")]
    if faults:
        print("\nfaults\n" + table(faults, [
            "scenario", "store", "passed", "tasks", "lost", "stuck", "duplicates",
            "late_outcomes_refused", "enqueue_failures_during_cut", "delayed_started_early",
            "seconds"]))
    print("\n" + table(reports, ["scenario", "store", "passed", "seconds", "error"]))


if __name__ == "__main__":
    sys.exit(main())
