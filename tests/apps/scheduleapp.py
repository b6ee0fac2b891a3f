"""A one-second schedule for the schedule chaos test, run by real worker processes; each
run logs its slot to $TB_EFFECTS (the event is the slot, ISO 8601)."""

from __future__ import annotations

import os
from pathlib import Path

from taskbasket import Basket, current_task
from tests.helpers import Effects

basket = Basket(os.environ.get("TASKBASKET_URL"))
_effects = Effects(Path(os.environ.get("TB_EFFECTS", "/tmp/taskbasket-effects.db")))


@basket.periodic(every=1, catch_up="all", max_attempts=20)
def beat() -> None:
    ctx = current_task()
    assert ctx is not None and ctx.slot is not None
    _effects.record(ctx.id, ctx.attempt, ctx.slot.isoformat())
