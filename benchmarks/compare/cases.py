"""One case of `make compare` (a system, a store, a handler kind), measured from outside.

Every measurement starts from an empty store. The producer side runs in the system's
own interpreter (benchmarks/compare/runner.py); the worker is the system's own command
line in a process group of its own. The drain clock runs from the worker's launch to
the last handler's return (``last`` mark); the worker's CPU per task (its whole process
tree) and the server's are taken between the ``first`` mark (a tenth of the tasks done)
and the ``last``, so start-up is left out of them but not out of the rate.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.compare import jobs, places
from benchmarks.compare.systems import System
from benchmarks.marks import cpu_seconds, process_tree, rss_bytes, wait_mark
from benchmarks.servers import ServerCpu

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Counts:
    single: int  # tasks enqueued one call each, per round
    batch: int  # tasks enqueued in batches of 1,000, per round
    rounds: int  # enqueue rounds; the best is reported
    drain: int  # tasks prefilled for each drain
    pickup: int  # pickup samples


FULL = Counts(single=2000, batch=20_000, rounds=3, drain=10_000, pickup=100)
QUICK = Counts(single=200, batch=2000, rounds=1, drain=1000, pickup=10)


@dataclass
class Case:
    system: System
    store: str
    handler: str
    python: str  # the interpreter of the system's venv
    logs: Path  # the workers' output goes here
    run: str = field(default_factory=lambda: f"{os.getpid()}_{os.urandom(3).hex()}")
    sqlite_dir: str = ""

    @property
    def label(self) -> str:
        return f"{self.system.name}-{self.store}-{self.handler}"

    def env(self, **extra: str) -> dict[str, str]:
        paths = [str(ROOT)] if self.system.peer else [str(ROOT / "src"), str(ROOT)]
        inherited = os.environ.get("PYTHONPATH")
        env = dict(os.environ, COMPARE_STORE=self.store, COMPARE_HANDLER=self.handler,
                   COMPARE_RUN=self.run, COMPARE_SQLITE_DIR=self.sqlite_dir,
                   PYTHONPATH=os.pathsep.join(paths + ([inherited] if inherited else [])))
        env.update(extra)
        return env


def _redis() -> Any:
    import redis

    return redis.Redis.from_url(places.REDIS_URL, socket_timeout=30)


@contextmanager
def fresh_store(case: Case) -> Iterator[None]:
    """An empty store for ``case``, removed afterwards; the job keys of the run cleared."""
    if case.store == "postgres":
        import psycopg

        with psycopg.connect(places.PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{places.PG_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{places.PG_DB}"')
    elif case.store == "redis":
        _redis().flushdb()  # our own database number only (benchmarks/compare/places.py)
    elif case.store == "sqlite":
        case.sqlite_dir = tempfile.mkdtemp(prefix="tb-compare-")
    client = _redis()
    keys = jobs.run_keys(case.run)
    client.delete(*keys)
    try:
        yield
    finally:
        client.delete(*keys)
        if case.store == "redis":
            client.flushdb()
        elif case.store == "sqlite":
            shutil.rmtree(case.sqlite_dir, ignore_errors=True)
        client.close()


def step(case: Case, action: str, *args: str, timeout: float = 900) -> dict[str, Any]:
    """Run ``action`` of benchmarks/compare/runner.py for ``case``; its answer."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as answer:
        path = answer.name
    try:
        done = subprocess.run(
            [case.python, "-m", "benchmarks.compare.runner", case.system.name, action, *args],
            env=case.env(COMPARE_RESULT=path), cwd=ROOT, capture_output=True, text=True,
            timeout=timeout, check=False,
        )
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
            raise RuntimeError(f"{case.label}: {action} failed (exit {done.returncode}):\n{tail}")
        with open(path) as result:
            found: dict[str, Any] = json.load(result)
        return found
    finally:
        os.unlink(path)


@contextmanager
def worker(case: Case, name: str, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """The system's worker for ``case``, stopped (SIGTERM, then SIGKILL) at the end."""
    case.logs.mkdir(parents=True, exist_ok=True)
    with open(case.logs / f"{case.label}-{name}.log", "wb") as log:
        process = subprocess.Popen(case.system.worker_argv(case.python), env=case.env(**extra),
                                   cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            yield process
        except Exception as exc:
            code = process.poll()
            if code is not None:  # the worker's death is the news, not the step's symptom
                raise RuntimeError(f"the worker exited with code {code}: see "
                                   f"{log.name}") from exc
            raise
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the worker's process group: SIGTERM, up to 20 s, then SIGKILL."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(20)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the leader's children, if any are left
    process.wait(10)


def enqueue(case: Case, counts: Counts) -> dict[str, Any]:
    with fresh_store(case):
        step(case, "setup")
        return step(case, "enqueue", str(counts.single), str(counts.batch), str(counts.rounds))


def drain(case: Case, job: str, count: int) -> dict[str, Any]:
    """Prefill ``count`` tasks of ``job``, launch the worker, time it to the last one."""
    with fresh_store(case):
        step(case, "setup")
        step(case, "prefill", job, str(count))
        marks = Path(tempfile.mkdtemp(prefix="tb-compare-marks-"))
        server = ServerCpu(case.store, places.PG_ADMIN_URL, places.PG_DB)
        if case.store == "redis" and places.REDIS_PID:
            server.only = (places.REDIS_PID,)
        try:
            launched = time.time()
            with worker(case, f"drain-{job}", BENCH_MARKS=str(marks),
                        BENCH_TARGET=str(count)) as process:
                deadline = time.monotonic() + max(300.0, count / 10)
                wait_mark(marks, "first", deadline, process)
                cpu_first = cpu_seconds(process_tree(process.pid))
                server.start()
                last = wait_mark(marks, "last", deadline, process)
                tree = process_tree(process.pid)
                cpu_last = cpu_seconds(tree)
                server_seconds = server.seconds_since_first()
                rss = rss_bytes(tree)
        finally:
            shutil.rmtree(marks, ignore_errors=True)
    window = count - max(1, count // 10)
    return {
        f"drain_{job}_per_s": count / (last - launched),
        f"drain_{job}_worker_cpu_us": (cpu_last - cpu_first) / window * 1e6,
        f"drain_{job}_server_cpu_us": (None if server_seconds is None
                                       else server_seconds / window * 1e6),
        f"drain_{job}_rss_mb": rss / 2**20,
    }


def pickup(case: Case, samples: int) -> dict[str, Any]:
    """With the worker idle, the delay from each enqueue call to the task's start."""
    with fresh_store(case):
        step(case, "setup")
        with worker(case, "pickup"):
            delays = sorted(step(case, "pickup", str(samples))["pickup_ms"])
    return {"pickup_p50_ms": statistics.median(delays),
            "pickup_p99_ms": delays[min(len(delays) - 1, int(len(delays) * 0.99))]}


def measure(case: Case, counts: Counts, with_enqueue: bool) -> dict[str, Any]:
    """Every figure of ``case``; a part that fails leaves its error, the rest goes on."""
    results: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    parts: list[tuple[str, Any]] = []
    if with_enqueue:
        parts.append(("enqueue", lambda: enqueue(case, counts)))
    parts += [("drain_noop", lambda: drain(case, "noop", counts.drain)),
              ("drain_incr", lambda: drain(case, "incr", counts.drain)),
              ("pickup", lambda: pickup(case, counts.pickup))]
    for name, part in parts:
        for attempt in (1, 2):  # the servers are shared: a neighbour may cut a connection
            try:
                results.update(part())
                break
            except Exception as exc:  # one failed part must not end the run
                message = f"{type(exc).__name__}: {exc}"
                key = "errors" if attempt == 2 else "retried"
                results.setdefault(key, {})[name] = message
    results["load_after"] = os.getloadavg()[0]
    return results
