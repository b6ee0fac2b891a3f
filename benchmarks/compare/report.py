"""The table of `make compare`: every system per store, then taskbasket's ratios.

For each store the ratio rows divide taskbasket's figure (sync handlers, then async) by
the best peer's on that store, whatever the peer's handler kind: above 1 is faster for
the rates; for the pickup latency the ratio is taskbasket's delay over the peer's, so
there below 1 is better.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

# (result key, column title, higher is better)
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("enqueue_per_s", "enqueue/s", True),
    ("batch_enqueue_per_s", "batch enqueue/s", True),
    ("drain_noop_per_s", "drain no-op/s", True),
    ("drain_incr_per_s", "drain INCR/s", True),
    ("pickup_p50_ms", "pickup p50 ms", False),
    ("pickup_p99_ms", "pickup p99 ms", False),
    ("drain_incr_worker_cpu_us", "worker CPU µs/task (INCR)", False),
    ("drain_incr_server_cpu_us", "server CPU µs/task (INCR)", False),
)


def _figure(value: Any) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def best_peer(rows: list[dict[str, Any]], key: str, higher: bool) -> dict[str, Any] | None:
    """The peer row with the best ``key`` (highest rate or lowest latency), or None."""
    candidates = [r for r in rows if r["peer"] and r["results"].get(key) is not None]
    if not candidates:
        return None
    pick = max if higher else min
    return pick(candidates, key=lambda r: r["results"][key])


def ratios(rows: list[dict[str, Any]], handler: str) -> dict[str, dict[str, Any]]:
    """For each column: taskbasket's (``handler``) figure over the best peer's."""
    ours = next((r for r in rows if not r["peer"] and r["handler"] == handler), None)
    found: dict[str, dict[str, Any]] = {}
    if ours is None:
        return found
    for key, _, higher in COLUMNS:
        value = ours["results"].get(key)
        if value is None and key.startswith(("enqueue", "batch")):
            value = next((r["results"].get(key) for r in rows if not r["peer"]
                          and r["results"].get(key) is not None), None)
        peer = best_peer(rows, key, higher)
        if value is None or peer is None or not peer["results"][key]:
            continue
        found[key] = {"ratio": value / peer["results"][key], "peer": peer["label"],
                      "peer_value": peer["results"][key], "taskbasket": value}
    return found


def table(by_store: dict[str, list[dict[str, Any]]], title: str) -> Table:
    """One table: a section per store, the systems' rows and taskbasket's ratio rows."""
    grid = Table(title=title, header_style="bold")
    grid.add_column("store")
    grid.add_column("system")
    for _, heading, _ in COLUMNS:
        grid.add_column(heading, justify="right")
    for store, rows in by_store.items():
        for row in rows:
            errors = row["results"].get("errors")
            cells = [_figure(row["results"].get(key)) for key, _, _ in COLUMNS]
            name = row["label"] + (" [red](errors)[/]" if errors else "")
            grid.add_row(store, name, *cells)
        for handler in ("sync", "async"):
            found = ratios(rows, handler)
            if not found:
                continue
            cells = []
            for key, _, _ in COLUMNS:
                entry = found.get(key)
                cells.append("-" if entry is None
                             else f"[bold]{entry['ratio']:.2f}[/] ({entry['peer']})")
            grid.add_row(store, f"[bold]taskbasket {handler} / best peer[/]", *cells)
        grid.add_section()
    return grid


def markdown(report: dict[str, Any]) -> str:
    """The same table in Markdown, for docs/performance.md: ``python -m
    benchmarks.compare.report benchmarks/results/compare-latest.json``."""
    head = ["store", "system", *(heading for _, heading, _ in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |",
             "| --- | --- |" + " --: |" * len(COLUMNS)]
    for store, section in report["stores"].items():
        for row in section["rows"]:
            cells = [_figure(row["results"].get(key)) for key, _, _ in COLUMNS]
            name = row["label"] + (" (errors)" if row["results"].get("errors") else "")
            lines.append(f"| {store} | {name} | " + " | ".join(cells) + " |")
        for handler, found in section["ratios"].items():
            if not found:
                continue
            cells = ["-" if key not in found else
                     f"**{found[key]['ratio']:.2f}** ({found[key]['peer']})"
                     for key, _, _ in COLUMNS]
            lines.append(f"| {store} | taskbasket {handler} / best peer | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import sys

    with open(sys.argv[1]) as source:
        print(markdown(json.load(source)))
