"""The chaos harness: many tasks, worker processes killed at random, connections cut and the
server restarted, then an audit of what became of every task."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers import Effects
from tests.stores import factory

from taskbasket import Basket, State

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ChaosConfig:
    tasks: int = 20_000
    workers: int = 4
    concurrency: int = 8
    visibility_timeout: float = 2.0
    kill_every: tuple[float, float] = (0.5, 2.0)
    cut_connections_every: float = 4.0
    restart_server: bool = True
    deadline: float = 900.0


@dataclass
class ChaosReport:
    store: str
    tasks: int
    succeeded: int = 0
    lost: int = 0
    stuck: int = 0
    not_succeeded: dict[str, int] = field(default_factory=dict)
    kills: int = 0
    connection_cuts: int = 0
    server_restarts: int = 0
    executions: int = 0
    duplicates: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.stuck == 0 and self.succeeded == self.tasks

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


class _Workers:
    def __init__(self, url: str, effects: Path, config: ChaosConfig, logs: Path) -> None:
        self.url, self.effects, self.config, self.logs = url, effects, config, logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start_one(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ, TASKBASKET_URL=self.url, TB_EFFECTS=str(self.effects),
                   PYTHONPATH=f"{ROOT / 'src'}:{ROOT}")
        log = open(self.logs / f"worker-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "taskbasket", "worker", "chaos.app:basket", "--url",
             self.url, "--concurrency", str(self.config.concurrency), "--visibility-timeout",
             str(self.config.visibility_timeout), "--poll-interval", "0.2", "--log-level",
             "WARNING"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def stop_all(self) -> None:
        for proc in self.alive():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def run_chaos(store_name: str, config: ChaosConfig, url: str | None = None,
              say: Any = print) -> ChaosReport:
    """Run one chaos round against ``store_name`` (a fresh store unless ``url`` is given)."""
    store = factory(store_name)
    own_store = url is None
    url = url or store.create(f"chaos_{os.getpid()}")
    workdir = Path(tempfile.mkdtemp(prefix="tb-chaos-"))
    effects = Effects(workdir / "effects.db")
    report = ChaosReport(store_name, config.tasks)
    kill_connections = getattr(store, "kill_connections", None)
    restart = getattr(store, "restart_server", None) if config.restart_server else None
    basket = Basket(url)
    workers = _Workers(url, effects.path, config, workdir)
    try:
        for offset in range(0, config.tasks, 5000):
            basket.enqueue_many("effect", [(i,) for i in range(
                offset, min(config.tasks, offset + 5000))], max_attempts=1000)
        ids = {t for t in _all_ids(basket)}
        assert len(ids) == config.tasks
        say(f"[{store_name}] enqueued {config.tasks} tasks; starting {config.workers} workers")
        for _ in range(config.workers):
            workers.start_one()
        started = time.monotonic()
        next_kill = started + random.uniform(*config.kill_every)
        next_cut = started + config.cut_connections_every
        restart_at = started + 8.0 if restart is not None else None
        while True:
            now = time.monotonic()
            done = _count_final(basket)
            if done >= config.tasks:
                break
            if now - started > config.deadline:
                say(f"[{store_name}] deadline reached with {done} of {config.tasks} final")
                break
            if now >= next_kill:
                victims = workers.alive()
                if victims:
                    victim = random.choice(victims)
                    victim.kill()
                    victim.wait(10)
                    report.kills += 1
                workers.start_one()
                next_kill = now + random.uniform(*config.kill_every)
            if kill_connections is not None and now >= next_cut:
                report.connection_cuts += _retrying(lambda: kill_connections(url))
                next_cut = now + config.cut_connections_every
            if restart_at is not None and now >= restart_at and done >= config.tasks // 4:
                say(f"[{store_name}] restarting the server")
                restart()  # type: ignore[misc]
                report.server_restarts += 1
                restart_at = None
            while len(workers.alive()) < config.workers:
                workers.start_one()
            time.sleep(0.1)
        report.seconds = time.monotonic() - started
    finally:
        workers.stop_all()
    # the audit
    stored = {}
    for task in _all_tasks(basket):
        stored[task.id] = task
    states = Counter(t.state for t in stored.values())
    report.succeeded = states.get(State.SUCCEEDED, 0)
    report.lost = len(ids - set(stored))
    report.stuck = states.get(State.RUNNING, 0)
    report.not_succeeded = {s.value: n for s, n in states.items() if s is not State.SUCCEEDED}
    rows = effects.events(event="done")
    report.executions = len(rows)
    per_task = Counter(row[0] for row in rows)
    report.duplicates = sum(n - 1 for n in per_task.values() if n > 1)
    missing_effects = [t for t, task in stored.items()
                       if task.state is State.SUCCEEDED and per_task.get(t, 0) == 0]
    if missing_effects:
        report.lost += len(missing_effects)  # succeeded without its effect: lost work
    basket.close()
    if own_store:
        store.drop(url)
    return report


def _retrying(action: Any, attempts: int = 60) -> Any:
    """The harness's own reads survive the connection cuts and restarts it causes."""
    for attempt in range(attempts):
        try:
            return action()
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def _count_final(basket: Basket) -> int:
    count: int = _retrying(lambda: basket.count([State.SUCCEEDED, State.FAILED,
                                                  State.CANCELLED]))
    return count


def _all_tasks(basket: Basket) -> list[Any]:
    tasks: list[Any] = _retrying(lambda: _all_tasks_once(basket))
    return tasks


def _all_tasks_once(basket: Basket) -> list[Any]:
    tasks: list[Any] = []
    before: str | None = None
    while True:
        page = basket.list(limit=5000, before=before)
        tasks.extend(page)
        if len(page) < 5000:
            return tasks
        before = page[-1].id


def _all_ids(basket: Basket) -> list[str]:
    return [t.id for t in _all_tasks(basket)]
