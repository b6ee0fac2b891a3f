"""Scenario 3, the store cut off: the store's host loses its link to every worker (and to
the producer) for ``CUT_SECONDS``. The workers back off and log each failing loop once,
and resume without a restart; the producer's enqueues fail with a clear error during the
cut (none half-written: every stored task is in the ledger, or in a whole batch whose
reply was lost) and succeed after.

The producer is configured to fail fast (``PRODUCER_OPTIONS``): over a silent cut, an
enqueue with the drivers' defaults blocks until the cut heals (TCP retransmits) or the
kernel gives up, which is the finding written in docs/reliability.md.
"""

from __future__ import annotations

import time
from typing import Any

from hosts.lab import Lab
from hosts.ledger import all_tasks, effects_ledger
from hosts.partition import count_lines, effect, effects_of
from hosts.traffic import Trickle
from hosts.workers import HostWorker, start_worker, wait_for
from taskbasket import Basket, State

CUT_SECONDS = 10.0
PRODUCER_OPTIONS = {"postgres": "tcp_user_timeout=2000&connect_timeout=2",
                    "redis": "socket_timeout=2&socket_connect_timeout=2",
                    "mysql": "connect_timeout=2&read_timeout=2&write_timeout=2"}
"""Per store: the producer's URL options that bound one enqueue to about two seconds."""

BATCH = 8


def run(store: str, *, short: bool = False) -> dict[str, Any]:
    folder, ledger = effects_ledger("tbh-outage-")
    with Lab(store, workers=2) as lab:
        assert lab.server is not None
        base = lab.server.url("outage")
        url = f"{base}{'&' if '?' in base else '?'}{PRODUCER_OPTIONS[store]}"
        producer = Basket(url)
        producer.task(name="effect")(effect)
        workers: dict[str, HostWorker] = {
            name: start_worker(lab, name, "outage", folder, "--concurrency", "4",
                               "--visibility-timeout", "30", "--poll-interval", "0.2",
                               effects=ledger.effects_path) for name in ("w1", "w2")}
        trickle = Trickle(producer, ledger, batch=BATCH, every=0.2, limit=4000,
                          seconds=CUT_SECONDS + 14, work=0.02).start()
        wait_for(lambda: any(effects_of(folder / "effects.db", w.process.pid) > 0
                             for w in workers.values()), 30, "the workers to work")
        time.sleep(1.0)
        working = [w for w in workers.values()
                   if effects_of(folder / "effects.db", w.process.pid) > 0]
        lab.cut("store")
        cut_at = time.monotonic()
        time.sleep(CUT_SECONDS)
        lab.reconnect("store")
        healed_at, healed_wall = time.monotonic(), time.time()
        wait_for(lambda: all(effects_of(folder / "effects.db", w.process.pid, healed_wall) > 0
                             for w in working), 90, "every worker that worked to resume")
        resumed_after = time.monotonic() - healed_at
        wait_for(lambda: any(t > healed_at for t in trickle.successes), 60,
                 "an enqueue to succeed after the cut")
        trickle.stop()
        during = [text for at, text in trickle.failures if cut_at <= at <= healed_at + 30]
        wait_for(lambda: producer.count(State.SUCCEEDED) >= len(ledger.ids), 90,
                 "every acknowledged task to succeed")
        restarted = [name for name, w in workers.items() if w.process.poll() is not None]
        for worker in workers.values():
            worker.stop()
        audit = ledger.audit(producer)
        stored = sum(len(all_tasks(producer, state)) for state in State)
        producer.close()
        logged = {name: count_lines(w.log, "retrying with backoff")
                  for name, w in workers.items()}
        shaping = lab.shaping
    beyond = stored - len(set(ledger.ids))
    return {"scenario": "outage", "store": store, "shaping": shaping,
            "cut_seconds": CUT_SECONDS, "workers_resumed_seconds_after": round(resumed_after, 1),
            "workers_restarted": restarted, "workers_that_worked_before": len(working),
            "outage_log_lines": logged,
            "enqueue_failures_during_cut": len(during),
            "first_enqueue_error": during[0][:300] if during else None,
            "stored_beyond_ledger": beyond, **audit,
            "passed": audit["lost"] == 0 and audit["stuck"] == 0 and not restarted
            and len(during) > 0 and beyond % BATCH == 0}
