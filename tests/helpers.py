"""Helpers for tests: waiting on conditions, real worker processes, and an effects log."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskbasket.backends.base import Backend
    from taskbasket.maintenance import MaintenanceReport

ROOT = Path(__file__).resolve().parent.parent
PYTHONPATH = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
"""For subprocesses: this checkout's taskbasket (not an installed one) and its tests."""


def wait_for(
    condition: Callable[[], Any], timeout: float = 20.0, message: str = "condition",
    interval: float = 0.02,
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def run_taskbasket(
    *args: str, cwd: Path, stdin: str | None = None, columns: int = 200,
    env: dict[str, str] | None = None, timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """The real ``taskbasket`` command (``python -m taskbasket``), as a user runs it in
    ``cwd``, in a terminal ``columns`` wide; ``env`` adds to a bare environment."""
    return subprocess.run(
        [sys.executable, "-m", "taskbasket", *args], cwd=cwd, capture_output=True, text=True,
        input=stdin, timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"),
             "COLUMNS": str(columns), **(env or {})},
    )


def maintain(backend: Backend) -> MaintenanceReport:
    """One rescue (expired leases requeued due now, or failed) and one promotion, by the
    core's services, as a leader's maintenance thread runs them."""
    from taskbasket.maintenance import Maintenance, Rescuer, Stager

    services = [Rescuer(backend), Stager(backend)]
    return Maintenance(backend, services, holder="tests", leader_ttl=1.0).run_once()


class Effects:
    """A log, in its own SQLite file, of what handlers did: (task id, attempt, event, pid)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS effects (task_id TEXT, attempt INT, event TEXT, "
                "pid INT, at REAL)"
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def record(self, task_id: str, attempt: int, event: str) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO effects VALUES (?,?,?,?,?)",
                (task_id, attempt, event, os.getpid(), time.time()),
            )

    def events(self, task_id: str | None = None, event: str | None = None) -> list[tuple[Any, ...]]:
        sql = "SELECT task_id, attempt, event, pid FROM effects WHERE 1"
        params: list[Any] = []
        if task_id is not None:
            sql += " AND task_id = ?"
            params.append(task_id)
        if event is not None:
            sql += " AND event = ?"
            params.append(event)
        with self._connect() as conn:
            return conn.execute(sql + " ORDER BY at", params).fetchall()


class WorkerProcess:
    """A real ``taskbasket worker`` process running tests/apps/crashapp.py."""

    def __init__(
        self, url: str, effects: Path, *args: str, app: str = "tests.apps.crashapp:basket",
        env: dict[str, str] | None = None,
    ) -> None:
        env = {**os.environ, "TASKBASKET_URL": url, "TB_EFFECTS": str(effects),
               "PYTHONPATH": PYTHONPATH, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.log_path = effects.parent / f"worker-{os.urandom(3).hex()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "taskbasket", "worker", app, "--url", url, *args],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_started(self, timeout: float = 20.0) -> None:
        wait_for(lambda: "started:" in self.log() or self.proc.poll() is not None, timeout,
                 "worker to start")
        if "started:" not in self.log():
            raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log()}")

    def wait_for(self, condition: Callable[[], Any], timeout: float, message: str) -> Any:
        """``wait_for``, failing with the end of this worker's log."""
        try:
            return wait_for(condition, timeout, message)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the worker's log ends:\n{self.log()[-3000:]}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def stop(self) -> None:
        self.kill()
        self._log.close()
