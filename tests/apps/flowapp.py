"""A limited task for flow-control crash tests, run by real worker processes: each run logs
its start and end (with the key) to $TB_EFFECTS."""

from __future__ import annotations

import os
import time
from pathlib import Path

from taskbasket import Basket, current_task
from tests.helpers import Effects

basket = Basket(os.environ.get("TASKBASKET_URL"))
_effects = Effects(Path(os.environ.get("TB_EFFECTS", "/tmp/taskbasket-effects.db")))
PER_KEY = 2
"""At most this many ``limited`` tasks of one key run at once, across every worker."""


@basket.task(max_attempts=10, concurrency=PER_KEY, limit_key=lambda key, seconds: key)
def limited(key: str, seconds: float) -> None:
    ctx = current_task()
    assert ctx is not None
    _effects.record(ctx.id, ctx.attempt, f"start:{key}")
    time.sleep(seconds)
    _effects.record(ctx.id, ctx.attempt, f"end:{key}")
