"""The chaos run's task: it records its start and its effect (task id, attempt) in a
separate log, so the audit can tell an attempt a kill interrupted from one that ended."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from tests.helpers import Effects

from taskbasket import Basket, current_task

basket = Basket(os.environ.get("TASKBASKET_URL"))
_effects = Effects(Path(os.environ.get("TB_EFFECTS", "/tmp/taskbasket-chaos-effects.db")))


@basket.task(max_attempts=1000, timeout=60, backoff=0.1)
def effect(n: int) -> None:
    """'start', a little work, then the effect: one 'done' row per execution that reached
    its end."""
    ctx = current_task()
    assert ctx is not None
    _effects.record(ctx.id, ctx.attempt, "start")
    time.sleep(random.uniform(0.001, 0.005))
    _effects.record(ctx.id, ctx.attempt, "done")
