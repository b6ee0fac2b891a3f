"""The chaos run's worker processes, and the seeded schedule that SIGKILLs them."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers import PYTHONPATH

ROOT = Path(__file__).resolve().parent.parent


class Workers:
    """Real ``taskbasket worker chaos.app:basket`` processes; each logs to its own file."""

    def __init__(self, url: str, effects: Path, logs: Path, concurrency: int,
                 visibility_timeout: float) -> None:
        self.url, self.effects, self.logs = url, effects, logs
        self.concurrency, self.visibility_timeout = concurrency, visibility_timeout
        self.procs: list[subprocess.Popen[bytes]] = []

    def start_one(self) -> subprocess.Popen[bytes]:
        import os

        env = dict(os.environ, TASKBASKET_URL=self.url, TB_EFFECTS=str(self.effects),
                   PYTHONPATH=PYTHONPATH)
        with open(self.logs / f"worker-{len(self.procs)}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "taskbasket", "worker", "chaos.app:basket", "--url",
                 self.url, "--concurrency", str(self.concurrency), "--visibility-timeout",
                 str(self.visibility_timeout), "--poll-interval", "0.2", "--log-level",
                 "WARNING"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def keep(self, count: int) -> None:
        """Start workers until ``count`` are alive (a worker may also exit on its own)."""
        while len(self.alive()) < count:
            self.start_one()

    def stop_all(self) -> None:
        for proc in self.alive():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


class KillSchedule:
    """When to SIGKILL a worker next, and which: drawn from ``random.Random(seed)``, so a
    run's choices can be replayed (the timing of the work itself cannot)."""

    def __init__(self, seed: int, every: tuple[float, float], started: float) -> None:
        self.random = random.Random(seed)
        self.every = every
        self.next_at = started + self.random.uniform(*every)
        self.kills = 0

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def kill_one(self, workers: Workers, now: float, say: Any) -> None:
        victims = sorted(workers.alive(), key=lambda p: p.pid)
        if victims:
            victim = self.random.choice(victims)
            victim.kill()
            victim.wait(10)
            self.kills += 1
        self.next_at = now + self.random.uniform(*self.every)
