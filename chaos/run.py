"""The chaos harness: many tasks, enqueued before and while worker processes run; the
workers SIGKILLed on a seeded schedule, the round's own connections cut, and (on a
private server) the server crashed and restarted mid-run; then the audit of every task
the store acknowledged (chaos/audit.py)."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers import Effects

from chaos.audit import ChaosReport, audit_bus, audit_records
from chaos.targets import Target, can_be_private, open_target
from chaos.workers import KillSchedule, Workers
from taskbasket import Basket, State

OPEN_STATES = [State.QUEUED, State.SCHEDULED, State.RUNNING, State.RETRYING]
FINAL_STATES = [State.SUCCEEDED, State.FAILED, State.CANCELLED]


@dataclass
class ChaosConfig:
    tasks: int = 20_000
    workers: int = 4
    concurrency: int = 8
    visibility_timeout: float = 2.0
    kill_every: tuple[float, float] = (0.5, 2.0)
    cut_connections_every: float = 4.0
    restart_server: bool = True
    """Run on a private server (where tests/servers has one) and restart it once."""
    restart_crash: bool = True
    """Restart by SIGKILL (a crash); False: a clean shutdown."""
    restart_at: float = 0.33
    """The share of the tasks done when the server restarts."""
    upfront: float = 0.3
    """The share enqueued before the workers start; the rest is enqueued while they run,
    a batch whenever the backlog runs low, so enqueues are in flight at the restart."""
    batch: int = 500
    redis_fsync: str = "always"
    seed: int | None = None
    """Seeds the kill schedule; None draws one (printed and reported either way)."""
    deadline: float = 900.0


class _Producer(threading.Thread):
    """Enqueues the rest of the tasks in batches while the workers run; keeps the ids each
    ``enqueue_many`` returned (the ledger). A batch that raised may have been stored all
    the same; it is enqueued again (new ids) and counted as an enqueue error."""

    def __init__(self, basket: Basket, config: ChaosConfig, ledger: set[str],
                 report: ChaosReport, progress: list[int]) -> None:
        super().__init__(daemon=True, name="chaos-producer")
        self.basket, self.config, self.ledger, self.report = basket, config, ledger, report
        self.progress = progress
        self.next_n = 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def enqueue_batch(self, size: int) -> None:
        while not self.stopping.is_set():
            try:
                refs = self.basket.enqueue_many(
                    "effect", [(n,) for n in range(self.next_n, self.next_n + size)],
                    max_attempts=1000)
            except Exception:
                self.report.enqueue_errors += 1
                self.stopping.wait(0.5)
                continue
            with self.lock:
                self.ledger.update(ref.id for ref in refs)
            self.next_n += size
            return

    def run(self) -> None:
        while self.next_n < self.config.tasks and not self.stopping.is_set():
            backlog = len(self.ledger) - self.progress[0]
            if backlog < 2 * self.config.batch:
                self.enqueue_batch(min(self.config.batch, self.config.tasks - self.next_n))
            else:
                self.stopping.wait(0.05)

    @property
    def finished(self) -> bool:
        return self.next_n >= self.config.tasks


def run_chaos(store_name: str, config: ChaosConfig, url: str | None = None,
              say: Any = print) -> ChaosReport:
    """Run one chaos round against ``store_name``: a new store (on a private server if
    ``config.restart_server``), or the store at ``url`` (never restarted)."""
    seed = config.seed if config.seed is not None else random.SystemRandom().randrange(2**31)
    tag = f"chaos_{os.getpid()}_{os.urandom(2).hex()}"
    workdir = Path(tempfile.mkdtemp(prefix="tb-chaos-"))
    private = config.restart_server and url is None and can_be_private(store_name)
    target = open_target(store_name, tag, workdir, private=private,
                         redis_fsync=config.redis_fsync, url=url)
    report = ChaosReport(target.label, seed, target.where)
    say(f"[{target.label}] seed {seed}; {target.where} server; {config.tasks} tasks, "
        f"{config.workers} workers; files in {workdir}")
    try:
        _round(target, config, workdir, report, say)
    except BaseException:
        say(f"[{target.label}] the round raised: worker logs and effects kept in {workdir}")
        raise
    finally:
        target.close()
    report.notes.update(target.notes)
    if report.passed:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        say(f"[{target.label}] FAILED ({'; '.join(report.problems())}): worker logs and "
            f"effects kept in {workdir}")
    return report


def _round(target: Target, config: ChaosConfig, workdir: Path, report: ChaosReport,
           say: Any) -> None:
    effects = Effects(workdir / "effects.db")
    basket = Basket(target.url)
    workers = Workers(target.url, effects.path, workdir, config.concurrency,
                      config.visibility_timeout)
    ledger: set[str] = set()
    progress = [0]
    producer = _Producer(basket, config, ledger, report, progress)
    measure = (lambda: _done_effects(effects)) if target.is_bus else (lambda: _final(basket))
    try:
        while producer.next_n < int(config.tasks * config.upfront):
            producer.enqueue_batch(min(config.batch, config.tasks - producer.next_n))
        for _ in range(config.workers):
            workers.start_one()
        started = time.monotonic()
        producer.start()
        kills = KillSchedule(seed=report.seed, every=config.kill_every, started=started)
        next_cut = started + config.cut_connections_every
        restart_pending = target.can_restart()
        while True:
            now = time.monotonic()
            progress[0] = measure()
            if producer.finished and _finished(target, basket, ledger, progress[0]):
                break
            if now - started > config.deadline:
                say(f"[{target.label}] deadline reached: {progress[0]} of {len(ledger)} done")
                break
            if kills.due(now):
                kills.kill_one(workers, now, say)
            if target.can_cut() and now >= next_cut:
                report.connection_cuts += _retrying(target.cut_connections)
                next_cut = now + config.cut_connections_every
            if restart_pending and progress[0] >= config.tasks * config.restart_at:
                how = "crashing (SIGKILL)" if config.restart_crash else "stopping"
                say(f"[{target.label}] {how} and restarting the server at {progress[0]} done")
                report.downtime = target.restart(crash=config.restart_crash)
                report.server_restarts += 1
                restart_pending = False
            workers.keep(config.workers)
            time.sleep(0.1 if not target.is_bus else 0.5)
        report.seconds = time.monotonic() - started
        report.kills = kills.kills
    finally:
        producer.stopping.set()
        producer.join(60)
        workers.stop_all()
    report.tasks = len(ledger)
    if target.is_bus:
        audit_bus(report, ledger, effects, _retrying(lambda: basket.count(State.FAILED)))
    else:
        audit_records(report, ledger, basket, effects, _retrying(lambda: _all_tasks(basket)))
    basket.close()


def _finished(target: Target, basket: Basket, ledger: set[str], progress: int) -> bool:
    if progress < len(ledger):
        return False
    if target.is_bus:
        return True
    open_tasks: int = _retrying(lambda: basket.count(OPEN_STATES))
    return open_tasks == 0


def _retrying(action: Any, attempts: int = 120) -> Any:
    """The harness's own calls survive the connection cuts and restarts it causes."""
    for attempt in range(attempts):
        try:
            return action()
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def _final(basket: Basket) -> int:
    count: int = _retrying(lambda: basket.count(FINAL_STATES))
    return count


def _done_effects(effects: Effects) -> int:
    import sqlite3

    conn = sqlite3.connect(effects.path, timeout=30)
    try:
        row = conn.execute(
            "SELECT COUNT(DISTINCT task_id) FROM effects WHERE event = 'done'").fetchone()
        return int(row[0])
    finally:
        conn.close()


def _all_tasks(basket: Basket) -> list[Any]:
    tasks: list[Any] = []
    before: str | None = None
    while True:
        page = basket.list(limit=5000, before=before)
        tasks.extend(page)
        if len(page) < 5000:
            return tasks
        before = page[-1].id
