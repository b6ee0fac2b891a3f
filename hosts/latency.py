"""Scenario 1, latency: one worker drains a backlog of no-op tasks over a link of 0
(loopback: the worker on the store's own host), 5 and 20 ms round trip, with default
settings and with ``prefetch=0`` beside them; the rate as a share of loopback's."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hosts.lab import Lab
from hosts.ledger import Ledger
from hosts.workers import drain
from taskbasket import Basket

TARGET = 0.5
"""At 5 ms, a worker with default settings drains at least this share of loopback's rate."""


def noop(n: int) -> None:
    """The harness's twin of ``hosts.app.noop`` (registered so that enqueues know it)."""


def run(store: str, *, short: bool = False) -> dict[str, Any]:
    """The drain rates, a row per round trip and setting; ``passed`` if nothing was lost
    or stuck and the 5 ms default row reached ``TARGET`` of the loopback default row."""
    tasks = 1500 if short else 4000
    rtts = (0.0, 5.0) if short else (0.0, 5.0, 20.0)
    settings: list[tuple[str, list[str]]] = [("default", [])]
    if not short:
        settings.append(("prefetch=0", ["--prefetch", "0"]))
    rows: list[dict[str, Any]] = []
    problems = 0
    logs = Path(tempfile.mkdtemp(prefix="tbh-logs-"))
    with Lab(store, workers=1) as lab:
        assert lab.server is not None
        for rtt in rtts:
            measured = lab.delay("w1", rtt) if rtt else 0.0
            for label, options in settings:
                tag = f"lat{int(rtt)}{'d' if label == 'default' else 'p'}"
                ledger = Ledger()
                with Basket(lab.server.url(tag)) as basket:
                    basket.task(name="noop")(noop)
                    result = drain(lab, "store" if rtt == 0 else "w1", basket, tag, ledger,
                                   tasks, logs, *options)
                    audit = ledger.audit(basket)
                problems += audit["lost"] + audit["stuck"]
                rows.append({
                    "store": store, "rtt_ms": rtt, "measured_rtt_ms": round(measured, 2),
                    "settings": label, "tasks_per_s": round(result.rate),
                    **result.per_task(),
                    "lost": audit["lost"], "stuck": audit["stuck"]})
        shaping = lab.shaping
    loopback = next(r for r in rows if r["rtt_ms"] == 0 and r["settings"] == "default")
    for row in rows:
        row["share_of_loopback"] = round(row["tasks_per_s"] / max(1, loopback["tasks_per_s"]), 2)
    at5 = next(r for r in rows if r["rtt_ms"] == 5 and r["settings"] == "default")
    return {"scenario": "latency", "store": store, "shaping": shaping, "rows": rows,
            "share_at_5ms": at5["share_of_loopback"],
            "passed": problems == 0 and at5["share_of_loopback"] >= TARGET}
