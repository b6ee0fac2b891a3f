"""The tasks the hosts harness runs: ``noop`` (nothing: the drain measures the queue
itself) and ``effect`` (records its start and end in the run's effects log, outside the
store, so the audit can count every execution; ``TBH_EFFECTS`` names the file)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.helpers import Effects

from taskbasket import Basket, current_task

basket = Basket(os.environ.get("TASKBASKET_URL"))
_effects = Effects(Path(os.environ["TBH_EFFECTS"])) if os.environ.get("TBH_EFFECTS") else None


@basket.task(max_attempts=1000)
def noop(n: int) -> None:
    """Nothing at all."""


@basket.task(max_attempts=1000, backoff=0.1)
def effect(n: int, seconds: float = 0.01) -> None:
    """'start', ``seconds`` of work, then 'done': one 'done' row per execution that ran
    to its end."""
    ctx = current_task()
    assert ctx is not None and _effects is not None
    _effects.record(ctx.id, ctx.attempt, "start")
    time.sleep(seconds)
    _effects.record(ctx.id, ctx.attempt, "done")
