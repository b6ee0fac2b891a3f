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
    environment = {**os.environ, "PYTHONPATH": PYTHONPATH, "TASKBASKET_URL": url, **(env or {})}
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
    """One drain: tasks per second, the CPU the workers and the store used for it, and
    what crossed the relays (round trips: requests; bytes both ways), all for ``tasks``."""

    tasks: int
    seconds: float
    client_cpu: float
    store_cpu: float
    round_trips: int = 0
    bytes: int = 0

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds if self.seconds else 0.0

    def per_task(self) -> dict[str, float]:
        """The figures per task (CPU in milliseconds)."""
        tasks = max(1, self.tasks)
        return {"client_cpu_ms_per_task": round(1000 * self.client_cpu / tasks, 3),
                "store_cpu_ms_per_task": round(1000 * self.store_cpu / tasks, 3),
                "round_trips_per_task": round(self.round_trips / tasks, 3),
                "bytes_per_task": round(self.bytes / tasks)}


def _relayed(lab: Lab, hosts: list[str]) -> tuple[int, int]:
    """Requests and bytes through the relays of ``hosts`` so far (0 without relays)."""
    trips = total = 0
    for host in hosts:
        relay = lab.relays.get(host)
        if relay is not None:
            counts = relay.stats()
            trips += counts["up_chunks"]
            total += counts["up_bytes"] + counts["down_bytes"]
    return trips, total


def drain(lab: Lab, host: str | list[str], basket: Basket, tag: str, ledger: Ledger,
          tasks: int, logs: Path, *options: str, timeout: float = 120.0) -> Drain:
    """Enqueue ``tasks`` no-ops (into ``ledger``), start a worker on each of ``host``,
    and time them from the first tenth done to the last task done (start-up and warm-up
    left out), with the CPU and traffic of that span."""
    hosts = [host] if isinstance(host, str) else host
    for start in range(0, tasks, 1000):
        ledger.enqueue(basket, "noop", [(n,) for n in range(start, min(tasks, start + 1000))])
    workers = [start_worker(lab, name, tag, logs, *options) for name in hosts]
    assert lab.server is not None
    try:
        warm = max(1, tasks // 10)
        wait_for(lambda: basket.count(State.SUCCEEDED) >= warm, timeout, "the first tasks")
        began, done0 = time.monotonic(), basket.count(State.SUCCEEDED)
        cpu0 = sum(w.cpu_seconds() for w in workers)
        store0, (trips0, bytes0) = lab.server.cpu_seconds(), _relayed(lab, hosts)
        wait_for(lambda: basket.count(State.SUCCEEDED) >= tasks, timeout,
                 f"{tasks} tasks to finish on {', '.join(hosts)}", step=0.02)
        seconds = time.monotonic() - began
        trips, moved = _relayed(lab, hosts)
        return Drain(tasks - done0, seconds, sum(w.cpu_seconds() for w in workers) - cpu0,
                     lab.server.cpu_seconds() - store0, trips - trips0, moved - bytes0)
    finally:
        for worker in workers:
            worker.stop()
