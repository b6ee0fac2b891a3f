"""The hosts harness, short (``make hosts`` runs the long version of every scenario).

Workers run on hosts of their own (network namespaces on a bridge) against a private
store server on another; the latency scenario drains over a delayed link and the
partition scenario cuts a worker host off for longer than the visibility timeout. Each
scenario's ledger of acknowledged ids must end with lost = 0 and stuck = 0. Rates are
reported by ``make hosts``, never asserted here.

Needs root, ``ip`` and ``tc``: it skips with the reason without them, and fails instead
when ``TASKBASKET_REQUIRE_BACKENDS`` names the store or ``hosts`` (or is ``all``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hosts import latency, partition
from hosts.net import PREFIX, STATE_DIR, Network, sweep_leftovers, why_unavailable
from hosts.servers import missing

from tests.stores import is_required


def _require(store: str) -> None:
    reason = why_unavailable() or missing(store)
    if reason is None:
        return
    if is_required(store) or is_required("hosts"):
        pytest.fail(f"{store} is required (TASKBASKET_REQUIRE_BACKENDS) but: {reason}")
    pytest.skip(reason)


def _namespaces() -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split(" ")[0] for line in listed.splitlines() if line.startswith(PREFIX)]


@pytest.mark.slow
@pytest.mark.parametrize("store", ["postgres", "redis"])
def test_latency_drain_over_a_delayed_link_loses_nothing(store: str) -> None:
    _require(store)
    report = latency.run(store, short=True)
    rows = {row["rtt_ms"]: row for row in report["rows"]}
    assert set(rows) == {0.0, 5.0}
    assert all(row["lost"] == 0 and row["stuck"] == 0 for row in rows.values()), rows
    assert rows[5.0]["measured_rtt_ms"] >= 4.0  # the link really was delayed
    assert all(row["tasks_per_s"] > 0 for row in rows.values())


@pytest.mark.slow
def test_partition_a_cut_host_is_rescued_fenced_and_rejoins() -> None:
    _require("postgres")
    report = partition.run("postgres", short=True)
    assert report["lost"] == 0 and report["stuck"] == 0, report
    assert report["succeeded"] == report["tasks"] > 0, report
    assert report["late_outcomes_refused"] > 0, report  # fencing across hosts
    assert report["duplicates"] >= 0 and report["executions"] >= report["tasks"]


def test_a_killed_runs_leftovers_are_swept_by_the_next() -> None:
    """What a run killed with SIGKILL leaves (its namespaces and links, named after it,
    and its state file with a dead pid) is removed by the next run's sweep."""
    reason = why_unavailable()
    if reason is not None:
        if is_required("hosts"):
            pytest.fail(f"the hosts harness is required but: {reason}")
        pytest.skip(reason)
    dead = subprocess.Popen(["true"])
    dead.wait()
    network = Network()
    network.open()
    network.add_host("w1")
    (STATE_DIR / f"{network.run_id}.json").write_text(json.dumps({"pid": dead.pid}))
    assert any(name.startswith(f"{PREFIX}{network.run_id}") for name in _namespaces())
    assert network.run_id in sweep_leftovers()
    assert not any(name.startswith(f"{PREFIX}{network.run_id}") for name in _namespaces())
    assert not Path(f"/sys/class/net/{network.bridge}").exists()
    assert not (STATE_DIR / f"{network.run_id}.json").exists()
    assert os.path.exists(STATE_DIR)


def test_an_interrupted_run_cleans_up_after_itself(tmp_path: Path) -> None:
    """SIGTERM to a run with a lab open: its servers stop and its namespaces go."""
    _require("redis")
    script = tmp_path / "run.py"
    script.write_text(
        "import time\nfrom hosts.lab import Lab\n"
        "lab = Lab('redis', 1).open()\nprint(lab.network.run_id, flush=True)\n"
        "time.sleep(60)\n")
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root / "src"), str(root)]))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=root, env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert run_id and any(name.startswith(f"{PREFIX}{run_id}") for name in _namespaces())
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    assert not any(name.startswith(f"{PREFIX}{run_id}") for name in _namespaces())
    assert not (STATE_DIR / f"{run_id}.json").exists()
