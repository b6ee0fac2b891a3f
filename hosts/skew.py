"""Scenario 4, clock skew: two worker hosts, one of them running ``SKEW`` off (its wall
clock faked by libfaketime; its monotonic clock true). Delayed tasks still start no
sooner than their delay on the store's clock, and leases run for the visibility timeout
on the store's clock: no task is rescued from a healthy worker, none runs twice."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.faketime import SITE, library

from hosts.lab import ROOT, Lab
from hosts.ledger import all_tasks, effects_ledger
from hosts.partition import effect
from hosts.workers import HostWorker, start_worker, wait_for
from taskbasket import Basket, State

SKEW = "+10m"
DELAY = 3.0
VISIBILITY = 3.0


def skewed(offset: str) -> dict[str, str]:
    """The environment of a process whose wall clock is ``offset`` off."""
    path = library()
    if path is None:
        raise RuntimeError("libfaketime is not installed (apt-get install faketime)")
    return {"LD_PRELOAD": path, "FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "PYTHONPATH": os.pathsep.join([str(SITE), str(ROOT / "src"), str(ROOT)])}


def run(store: str, *, short: bool = False) -> dict[str, Any]:
    folder, ledger = effects_ledger("tbh-skew-")
    with Lab(store, workers=2) as lab:
        assert lab.server is not None
        basket = Basket(lab.server.url("skew"))
        basket.task(name="effect")(effect)
        options = ["--concurrency", "4", "--visibility-timeout", str(VISIBILITY),
                   "--poll-interval", "0.2"]
        workers: list[HostWorker] = [
            start_worker(lab, "w1", "skew", folder, *options, effects=ledger.effects_path),
            start_worker(lab, "w2", "skew", folder, *options, effects=ledger.effects_path,
                         env=skewed(SKEW))]
        wait_for(lambda: all("started" in w.log.read_text() or w.process.poll() is None
                             for w in workers), 30, "the workers")
        count = 40 if short else 120
        refs = basket.enqueue_many("effect", [((n, 0.2), {}) for n in range(count // 2)],
                                   delay=DELAY)
        ledger.ids.extend(ref.id for ref in refs)
        # tasks longer than the visibility timeout: only heartbeats on the store's clock
        # keep them from being rescued
        ledger.enqueue(basket, "effect", [(n, VISIBILITY * 1.5) for n in range(count // 2)])
        wait_for(lambda: basket.count(State.SUCCEEDED) >= len(ledger.ids), 120,
                 "every task to succeed")
        for worker in workers:
            worker.stop()
        tasks = [t for state in State for t in all_tasks(basket, state)]
        early = [t.id for t in tasks if t.id in set(refs_ids(refs)) and t.started_at
                 and t.started_at - t.created_at < timedelta(seconds=DELAY - 0.05)]
        by_skewed = sum(1 for t in tasks if t.worker_id and
                        t.worker_id.split(":")[1] == str(workers[1].process.pid))
        offset = _skewed_offset(folder / "effects.db", workers[1].process.pid, tasks)
        audit = ledger.audit(basket)
        reruns = sum(1 for t in tasks if t.attempts > 1)
        basket.close()
        shaping = lab.shaping
    return {"scenario": "skew", "store": store, "shaping": shaping, "skew": SKEW,
            "skewed_host_clock_offset_s": offset,
            "delayed_started_early": len(early), "done_by_skewed_host": by_skewed,
            "tasks_with_more_than_one_attempt": reruns, **audit,
            "passed": audit["lost"] == 0 and audit["stuck"] == 0 and not early
            and reruns == 0 and audit.get("duplicates", 0) == 0 and by_skewed > 0}


def _skewed_offset(effects: Path, pid: int, tasks: list[Any]) -> float | None:
    """How far the skewed host's clock was off, seen in its effects: the wall time it
    wrote for a task's start minus the store's ``started_at`` (median)."""
    import sqlite3

    started = {t.id: t.started_at.timestamp() for t in tasks if t.started_at}
    with sqlite3.connect(effects, timeout=30) as conn:
        rows = conn.execute("SELECT task_id, at FROM effects WHERE pid = ? AND event = "
                            "'start'", (pid,)).fetchall()
    gaps = sorted(at - started[task] for task, at in rows if task in started)
    return round(gaps[len(gaps) // 2], 1) if gaps else None


def refs_ids(refs: list[Any]) -> list[str]:
    return [ref.id for ref in refs]
