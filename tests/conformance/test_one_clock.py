"""One clock: producers and workers whose clocks are ten minutes off (libfaketime, in
real subprocesses) still agree on delays, retries and leases, because every store with
a server clock (``capabilities.server_clock``: PostgreSQL, MySQL, Redis) reads its own.

A client clock anywhere in the chain shows up as ten minutes: a delay of 2 s due at
once or in ten minutes, a lease already expired when it is taken (stolen at once) or
lasting ten minutes (never rescued), a retry due ten minutes early or late.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from taskbasket import Basket, State, Task
from taskbasket.backends.base import ClaimParams
from tests import faketime
from tests.apps import clockapp
from tests.helpers import ROOT, Effects, WorkerProcess, wait_for

# worker processes open the store by its URL
pytestmark = [pytest.mark.slow, pytest.mark.needs("shared_between_processes")]

SKEW = 600.0
"""Ten minutes, in seconds: far beyond any lease, backoff or delay used below."""
VT = 2.0
APP = "tests.apps.clockapp:basket"


@pytest.fixture
def library(basket: Basket, store_name: str) -> str:
    if not basket.backend.capabilities.server_clock:
        pytest.skip(f"{store_name} has no server clock (capabilities): its clients share "
                    "one host's clock")
    return faketime.require(store_name)


@pytest.fixture
def effects(tmp_path: Path) -> Effects:
    return Effects(tmp_path / "effects.db")


@pytest.fixture
def producer(basket: Basket) -> Basket:
    for definition in clockapp.basket.registry.values():
        basket.task(name=definition.name, max_attempts=definition.max_attempts,
                    timeout=definition.timeout, backoff=definition.backoff)(definition.func)
    return basket


@pytest.fixture
def spawn(store_url: str, effects: Effects, library: str
          ) -> Iterator[Callable[..., WorkerProcess]]:
    workers: list[WorkerProcess] = []

    def start(offset: str, *args: str) -> WorkerProcess:
        worker = WorkerProcess(store_url, effects.path, "--visibility-timeout", str(VT),
                               "--concurrency", "1", "--poll-interval", "0.1", *args,
                               app=APP, env=faketime.skewed_env(offset, library))
        workers.append(worker)
        worker.wait_started(60)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def _runs(effects: Effects, task_id: str, event: str = "start") -> list[tuple[int, int]]:
    """(attempt, worker pid) of each time the task recorded ``event``, by attempt (the
    log's own times come from the workers' skewed clocks)."""
    return sorted((row[1], row[3]) for row in effects.events(task_id, event))


def _clock_of(effects: Effects, pid: int) -> float:
    """How far the clock of worker ``pid`` was from ours when it last recorded."""
    with sqlite3.connect(effects.path) as conn:
        (at,) = conn.execute("SELECT MAX(at) FROM effects WHERE pid = ?", (pid,)).fetchone()
    return float(at) - datetime.now(UTC).timestamp()


def _store_seconds(basket: Basket) -> float:
    return basket.backend.now().timestamp()


def _task(basket: Basket, task_id: str) -> Task:
    task = basket.get(task_id)
    assert task is not None
    return task


@pytest.mark.parametrize("offset", ["+10m", "-10m"])
def test_a_skewed_producer_schedules_delays_by_the_store_clock(
    producer: Basket, store_url: str, library: str, offset: str
) -> None:
    script = (
        "import json, sys, time\n"
        "from taskbasket import Basket\n"
        "basket = Basket(sys.argv[1])\n"
        "soon = basket.enqueue('hold', args=['-'], delay=2)\n"
        "later = basket.enqueue('hold', args=['-'], delay=3600)\n"
        "print(json.dumps({'clock': time.time(), 'soon': soon.id, 'later': later.id}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, store_url], capture_output=True, text=True, timeout=60,
        cwd=ROOT, env={**os.environ, **faketime.skewed_env(offset, library)})
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    skew = out["clock"] - datetime.now(UTC).timestamp()
    assert abs(skew - (SKEW if offset[0] == "+" else -SKEW)) < 60, skew  # faketime works
    soon, later = _task(producer, out["soon"]), _task(producer, out["later"])
    now = producer.backend.now()
    for task, delay in ((soon, 2), (later, 3600)):
        assert abs((task.created_at - now).total_seconds()) < 60
        due_in = (task.run_at - task.created_at).total_seconds()
        assert abs(due_in - delay) < 1, (offset, delay, due_in)
    assert later.state is State.SCHEDULED
    params = ClaimParams("test", ["hold"], 10, 30.0)
    [claimed] = wait_for(lambda: producer.backend.tasks_claim(params), 30, "the 2 s task")
    assert claimed.id == out["soon"]
    assert producer.backend.tasks_claim(params) == []  # the hour-long delay holds


def test_skewed_workers_retry_after_the_backoff_by_the_store_clock(
    producer: Basket, effects: Effects, spawn: Callable[..., WorkerProcess]
) -> None:
    behind, ahead = spawn("-10m", "--queues", "behind"), spawn("+10m", "--queues", "ahead")
    refs = {worker.pid: producer.enqueue("fail_once", queue=queue)
            for worker, queue in ((behind, "behind"), (ahead, "ahead"))}
    waits: dict[str, float] = {}

    def both_retrying() -> bool:  # each is seen retrying, before its retry starts
        for ref in refs.values():
            task = producer.get(ref.id)
            if ref.id not in waits and task is not None and task.state is State.RETRYING:
                waits[ref.id] = (task.run_at - producer.backend.now()).total_seconds()
        return len(waits) == len(refs)

    wait_for(both_retrying, 30, "both first attempts to fail")
    for wait_in in waits.values():  # ConstantBackoff(4.0), from the store's now
        assert -1 < wait_in <= 4.0 + 0.5, waits
    for pid, ref in refs.items():
        wait_for(lambda ref=ref: effects.events(ref.id, "done"), 30, "the retry to succeed")
        assert _runs(effects, ref.id) == [(1, pid), (2, pid)]
    assert abs(_clock_of(effects, behind.pid) + SKEW) < 60  # the workers' clocks were off
    assert abs(_clock_of(effects, ahead.pid) - SKEW) < 60


def test_skewed_workers_agree_on_leases(
    producer: Basket, effects: Effects, spawn: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    """A (ten minutes behind) and B (ahead) each hold a task past three lease periods:
    neither lease is seen as expired (by the holder's heartbeats, the other's rescuer or
    the claim). Then B is SIGKILLed: A takes its task once the lease runs out by the
    store's clock, seconds later, not ten minutes."""
    release = {name: tmp_path / f"release-{name}" for name in ("t1", "t2")}
    a = spawn("-10m")
    t1 = producer.enqueue("hold", args=[str(release["t1"])])
    wait_for(lambda: _runs(effects, t1.id), 30, "A to start T1")
    b = spawn("+10m")
    t2 = producer.enqueue("hold", args=[str(release["t2"])])
    wait_for(lambda: _runs(effects, t2.id), 30, "B to start T2")
    assert _runs(effects, t1.id) == [(1, a.pid)] and _runs(effects, t2.id) == [(1, b.pid)]
    for ref in (t1, t2):  # each lease ends within one lease period of the store's now
        lease_end = _task(producer, ref.id).lease_expires_at
        left = (lease_end - producer.backend.now()).total_seconds()
        assert 0 < left <= VT + 0.5, left
    held_until = _store_seconds(producer) + 3 * VT
    wait_for(lambda: _store_seconds(producer) >= held_until, 60, "three lease periods")
    assert _runs(effects, t1.id) == [(1, a.pid)]  # nobody took either task meanwhile
    assert _runs(effects, t2.id) == [(1, b.pid)]
    assert {_task(producer, r.id).state for r in (t1, t2)} == {State.RUNNING}
    release["t1"].touch()
    wait_for(lambda: _task(producer, t1.id).state is State.SUCCEEDED,
             30, "A to finish T1")
    b.kill()
    release["t2"].touch()
    wait_for(lambda: effects.events(t2.id, "done"), 60, "A to take over T2")
    assert _runs(effects, t2.id) == [(1, b.pid), (2, a.pid)]
    wait_for(lambda: _task(producer, t2.id).state is State.SUCCEEDED,
             30, "T2's outcome")
    assert abs(_clock_of(effects, a.pid) + SKEW) < 60
    assert abs(_clock_of(effects, b.pid) - SKEW) < 60
