"""Scenario 5, contention, and the capacity model: 1, 2 and 3 worker hosts drain one
store (each over a 1 ms link). Total throughput must not collapse as hosts are added (no
lock convoy). Each drain also gives the store's CPU per task (its processes' own
accounting), the round trips and bytes per task (counted by the relays) and the workers'
CPU per task; from them, what one store core carries and how many hosts saturate it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hosts.lab import Lab
from hosts.latency import noop
from hosts.ledger import Ledger
from hosts.workers import drain
from taskbasket import Basket

COLLAPSE = 0.7
"""Adding hosts may not drop the total below this share of one host's rate."""


def run(store: str, *, short: bool = False, rtt_ms: float = 1.0) -> dict[str, Any]:
    tasks = 3000 if short else 15000
    rows: list[dict[str, Any]] = []
    problems = 0
    logs = Path(tempfile.mkdtemp(prefix="tbh-logs-"))
    with Lab(store, workers=3) as lab:
        assert lab.server is not None
        measured = [lab.delay(f"w{i}", rtt_ms) for i in (1, 2, 3)]
        for count in (1, 2, 3):
            tag = f"cont{count}"
            ledger = Ledger()
            with Basket(lab.server.url(tag)) as basket:
                basket.task(name="noop")(noop)
                result = drain(lab, [f"w{i}" for i in range(1, count + 1)], basket, tag,
                               ledger, tasks, logs)
                audit = ledger.audit(basket)
            problems += audit["lost"] + audit["stuck"]
            per_task = result.per_task()
            store_ms = per_task["store_cpu_ms_per_task"]
            rows.append({"store": store, "hosts": count, "tasks_per_s": round(result.rate),
                         **per_task, "store_core_busy": round(result.store_cpu
                                                              / result.seconds, 2),
                         "tasks_per_store_core_s": round(1000 / store_ms) if store_ms else None,
                         "lost": audit["lost"], "stuck": audit["stuck"]})
        shaping = lab.shaping
    one = rows[0]["tasks_per_s"]
    best = max(row["tasks_per_s"] for row in rows)
    steady = rows[-1]
    carries = steady["tasks_per_store_core_s"]
    per_host = one
    return {"scenario": "contention", "store": store, "shaping": shaping,
            "rtt_ms": rtt_ms, "measured_rtt_ms": [round(m, 2) for m in measured],
            "rows": rows,
            "capacity": {"tasks_per_store_core_s": carries, "one_host_tasks_per_s": per_host,
                         "hosts_to_saturate_one_core": round(carries / per_host, 1)
                         if carries and per_host else None},
            "passed": problems == 0 and all(row["tasks_per_s"] >= COLLAPSE * one
                                            for row in rows) and best > 0}
