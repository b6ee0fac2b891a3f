"""Scenario 2, partition: three worker hosts; one is cut off mid-run for longer than the
visibility timeout, then reconnected. The others rescue its tasks; its late outcomes are
refused (the store fences them: ``discarded, the lease was lost`` in its log); it rejoins
and works again. lost = 0 and stuck = 0 are required; duplicates (a task's effect done
twice: once on the cut host, once on its rescuer) are counted and shown."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from hosts.lab import Lab
from hosts.ledger import effects_ledger
from hosts.traffic import Trickle
from hosts.workers import HostWorker, start_worker, wait_for
from taskbasket import Basket, State


def effect(n: int, seconds: float = 0.05) -> None:
    """The harness's twin of ``hosts.app.effect`` (registered so that enqueues know it)."""


def effects_of(path: Path, pid: int, after: float = 0.0) -> int:
    """How many effects ('done') process ``pid`` recorded after wall time ``after``."""
    with sqlite3.connect(path, timeout=30) as conn:
        row = conn.execute("SELECT count(*) FROM effects WHERE pid = ? AND event = 'done' "
                           "AND at > ?", (pid, after)).fetchone()
    return int(row[0])


def count_lines(log: Path, text: str) -> int:
    return sum(1 for line in log.read_text(errors="replace").splitlines() if text in line)


def run(store: str, *, short: bool = False) -> dict[str, Any]:
    visibility = 2.0 if short else 5.0
    cut_seconds = 2 * visibility + 1
    folder, ledger = effects_ledger("tbh-partition-")
    with Lab(store, workers=3) as lab:
        assert lab.server is not None
        for name in ("w1", "w2", "w3"):
            lab.delay(name, 1.0)
        basket = Basket(lab.server.url("part"))
        basket.task(name="effect")(effect)
        options = ["--concurrency", "4", "--visibility-timeout", str(visibility),
                   "--poll-interval", "0.2", "--grace-period", "5"]
        workers: dict[str, HostWorker] = {
            name: start_worker(lab, name, "part", folder, *options, effects=ledger.effects_path)
            for name in ("w1", "w2", "w3")}
        trickle = Trickle(basket, ledger, batch=8, every=0.1, limit=4000,
                          seconds=cut_seconds + (6 if short else 12)).start()
        victim = workers["w3"]
        wait_for(lambda: effects_of(folder / "effects.db", victim.process.pid) > 0, 30,
                 "the host to be cut to have done some work")
        lab.cut("w3")
        cut_at = time.monotonic()
        time.sleep(cut_seconds)  # bounded: the cut's length
        lab.reconnect("w3")
        back_wall = time.time()
        wait_for(lambda: effects_of(folder / "effects.db", victim.process.pid, back_wall) > 0,
                 60, "the reconnected host to work again")
        rejoined_after = time.monotonic() - cut_at - cut_seconds
        trickle.stop()
        wait_for(lambda: basket.count(State.SUCCEEDED) >= len(ledger.ids), 90,
                 "every acknowledged task to succeed")
        for worker in workers.values():
            worker.stop()
        audit = ledger.audit(basket)
        refused = count_lines(victim.log, "discarded, the lease was lost")
        lease_lost = count_lines(victim.log, "lost") - refused
        basket.close()
        shaping = lab.shaping
    return {"scenario": "partition", "store": store, "shaping": shaping,
            "visibility_timeout": visibility, "cut_seconds": cut_seconds,
            "rejoined_seconds_after_reconnect": round(rejoined_after, 1),
            "late_outcomes_refused": refused, "other_lease_lost_lines": lease_lost, **audit,
            "passed": audit["lost"] == 0 and audit["stuck"] == 0 and refused > 0}
