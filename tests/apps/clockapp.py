"""Tasks for the one-clock tests, run by worker processes whose clocks are skewed
(libfaketime); they log effects (with the worker's own ``time.time()``) to $TB_EFFECTS."""

from __future__ import annotations

import os
import time
from pathlib import Path

from taskbasket import Basket, ConstantBackoff, current_task
from tests.helpers import Effects

basket = Basket(os.environ.get("TASKBASKET_URL"))
_effects = Effects(Path(os.environ.get("TB_EFFECTS", "/tmp/taskbasket-clock-effects.db")))


def _record(event: str) -> int:
    ctx = current_task()
    assert ctx is not None
    _effects.record(ctx.id, ctx.attempt, event)
    return ctx.attempt


@basket.task(max_attempts=5, timeout=300)
def hold(release: str) -> None:
    """Records 'start', then holds its lease (heartbeats run) until the file ``release``
    exists, then records 'done'."""
    _record("start")
    while not Path(release).exists():
        time.sleep(0.05)
    _record("done")


@basket.task(max_attempts=3, backoff=ConstantBackoff(4.0))
def fail_once() -> None:
    """Fails its first attempt (a retry 4 s later by the store's clock), then succeeds."""
    if _record("start") == 1:
        raise RuntimeError("the first attempt fails")
    _record("done")
