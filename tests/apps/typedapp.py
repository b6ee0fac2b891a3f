"""A module-level handler with typed parameters, for the process executor (its children
import handlers by name)."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime
from decimal import Decimal

from taskbasket import Basket

basket = Basket(os.environ.get("TASKBASKET_URL"))


@dataclasses.dataclass
class Line:
    sku: str
    price: Decimal


@dataclasses.dataclass
class Order:
    lines: list[Line]
    placed: datetime


@basket.task(executor="process", timeout=120, max_attempts=1)
def record_order(order: Order, path: str) -> None:
    """Writes what the child received, with its types, to ``path``."""
    with open(path, "w") as out:
        json.dump({"order": type(order).__name__, "line": type(order.lines[0]).__name__,
                   "price": str(order.lines[0].price), "price_type": type(
                       order.lines[0].price).__name__,
                   "placed": type(order.placed).__name__}, out)
