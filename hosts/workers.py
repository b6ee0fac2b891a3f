"""Worker processes on the lab's hosts, and the drain measure: how fast a worker works
off a backlog of tasks enqueued beforehand, from its first finished task to its last."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hosts.lab import ROOT, Lab
from hosts.ledger import Ledger
from hosts.servers import process_cpu

from taskbasket import Basket, State

PYTHONPATH = os.pathsep.join([str(ROOT / "src"), str(ROOT)])


@dataclass
class HostWorker:
    """``taskbasket worker hosts.app:basket`` running on one host."""

    host: str
    process: subprocess.Popen[bytes]
    log: Path

    def cpu_seconds(self) -> float:
        return process_cpu(self.process.pid)

    def stop(self, timeout: float = 30.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def start_worker(lab: Lab, host: str, tag: str, logs: Path, *options: str,
                 effects: Path | None = None, prefix: list[str] | None = None,
                 env: dict[str, str] | None = None) -> HostWorker:
    """A worker on ``host`` for the store ``tag``; ``options`` go to ``taskbasket worker``;
    ``prefix`` runs before Python (``faketime``), ``env`` adds to its environment."""
    url = lab.url(host, tag)
    environment = dict(os.environ, PYTHONPATH=PYTHONPATH, TASKBASKET_URL=url, **(env or {}))
    if effects is not None:
        environment["TBH_EFFECTS"] = str(effects)
    log = logs / f"worker-{host}-{len(lab.processes)}.log"
    args = [*(prefix or []), sys.executable, "-m", "taskbasket", "worker", "hosts.app:basket",
            "--url", url, "--log-level", "WARNING", *options]
    return HostWorker(host, lab.spawn(host, args, log, environment), log)


def wait_for(condition: object, timeout: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(step)


@dataclass
class Drain:
    """One drain: tasks per second, and the CPU the worker and the store used for it."""

    tasks: int
    seconds: float
    client_cpu: float
    store_cpu: float

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds if self.seconds else 0.0


def drain(lab: Lab, host: str, basket: Basket, tag: str, ledger: Ledger, tasks: int,
          logs: Path, *options: str, timeout: float = 120.0) -> Drain:
    """Enqueue ``tasks`` no-ops (into ``ledger``), start a worker on ``host``, and time it
    from its first tenth done to the last task done (start-up and warm-up left out)."""
    for start in range(0, tasks, 1000):
        ledger.enqueue(basket, "noop", [(n,) for n in range(start, min(tasks, start + 1000))])
    worker = start_worker(lab, host, tag, logs, *options)
    assert lab.server is not None
    try:
        warm = max(1, tasks // 10)
        wait_for(lambda: basket.count(State.SUCCEEDED) >= warm, timeout, "the first tasks")
        began, done0 = time.monotonic(), basket.count(State.SUCCEEDED)
        cpu0, store0 = worker.cpu_seconds(), lab.server.cpu_seconds()
        wait_for(lambda: basket.count(State.SUCCEEDED) >= tasks, timeout,
                 f"{tasks} tasks to finish on {host}", step=0.02)
        seconds = time.monotonic() - began
        return Drain(tasks - done0, seconds, worker.cpu_seconds() - cpu0,
                     lab.server.cpu_seconds() - store0)
    finally:
        worker.stop()
