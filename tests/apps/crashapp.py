"""Tasks for crash tests, run by real worker processes; they log effects to $TB_EFFECTS."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from taskbasket import Basket, current_task
from tests.helpers import Effects

basket = Basket(os.environ.get("TASKBASKET_URL"))
_effects = Effects(Path(os.environ.get("TB_EFFECTS", "/tmp/taskbasket-effects.db")))


def _record(event: str) -> None:
    ctx = current_task()
    assert ctx is not None
    _effects.record(ctx.id, ctx.attempt, event)


@basket.task(max_attempts=3, timeout=120)
def slow(seconds: float) -> None:
    """Records 'start', sleeps, records 'done': the effect is the 'done' row."""
    _record("start")
    time.sleep(seconds)
    _record("done")


@basket.task(max_attempts=3)
def kill_worker() -> None:
    """Kills its own worker on every attempt: a poison task."""
    _record("start")
    os.kill(os.getpid(), signal.SIGKILL)


@basket.task(max_attempts=3)
def quick(label: str) -> None:
    _record("done")


def _step_body(index: int, pause: float) -> int:
    """One step's body: records 'step<index>' (a run of the body), then works a while."""
    _record(f"step{index}")
    time.sleep(pause)
    return index


@basket.task(max_attempts=30, timeout=120)
def stepped(steps: int, pause: float) -> int:
    """``steps`` durable steps one after the other; each body run is an effects row."""
    ctx = current_task()
    assert ctx is not None
    return sum(int(ctx.step(f"s{i}", _step_body, i, pause)) for i in range(steps))


@basket.task(max_attempts=20, timeout=60)
def step(value: int, pause: float) -> int:
    """A workflow's step: one more than it received, after ``pause`` seconds (long enough
    to be killed in)."""
    _record("start")
    time.sleep(pause)
    return value + 1


@basket.task(max_attempts=20, timeout=60)
def gather(values: list[int]) -> int:
    """A workflow's last step: the sum of a group's results."""
    _record("start")
    return sum(values)
