"""The benchmark's tasks: a no-op, so the figures measure taskbasket, not the handler."""

from __future__ import annotations

import os

from taskbasket import Basket

basket = Basket(os.environ.get("TASKBASKET_URL"))


@basket.task(max_attempts=3)
def noop(n: int = 0) -> None:
    return None
