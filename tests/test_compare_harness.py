"""The plumbing of `make compare` (benchmarks/compare/), run for taskbasket alone on
SQLite with a tiny count: each part runs to its end and the report holds every figure.
Nothing here is timed; the figures only have to exist."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.compare.__main__ import run
from benchmarks.compare.report import COLUMNS, table

from tests.stores import available_store


def test_compare_runs_taskbasket_on_sqlite_end_to_end(tmp_path: Path) -> None:
    available_store("redis")  # the jobs count, and report pickups, in Redis
    report = run(["--systems", "taskbasket", "--stores", "sqlite", "--count", "40",
                  "--samples", "3", "--shared-redis", "--out", str(tmp_path)])

    rows = report["stores"]["sqlite"]["rows"]
    assert [(r["system"], r["handler"]) for r in rows] == [
        ("taskbasket", "sync"), ("taskbasket", "async")]
    for row in rows:
        results = row["results"]
        assert "errors" not in results, results.get("errors")
        for key in ("drain_noop_per_s", "drain_incr_per_s", "pickup_p50_ms",
                    "pickup_p99_ms", "drain_incr_rss_mb"):
            assert results[key] > 0, key
        # a tiny drain may take less CPU than one clock tick of /proc accounting: 0.0
        assert isinstance(results["drain_incr_worker_cpu_us"], float)
        assert results["drain_incr_server_cpu_us"] is None  # SQLite has no server
    assert rows[0]["results"]["enqueue_per_s"] > 0  # enqueue once per system and store
    assert rows[0]["results"]["batch_enqueue_per_s"] > 0
    assert "taskbasket" in report["systems"]
    assert report["machine"]["cpus"] and report["servers"]["redis"]

    written = json.loads((tmp_path / "compare-latest.json").read_text())
    assert written["stores"]["sqlite"]["rows"][1]["results"]["drain_noop_per_s"] > 0
    assert list(tmp_path.glob("compare-2*.json"))  # and a dated copy beside it
    assert table({"sqlite": rows}, "smoke").row_count == len(rows)  # no peer: no ratio row
    assert len(COLUMNS) == 8
