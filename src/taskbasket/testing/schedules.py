"""``fire_schedules(basket)``: one pass of a worker's scheduler, here and now, so a test
fires the due slots of its schedules on the store's clock (a ``FakeClock``) and then runs
their tasks with ``drain``."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from taskbasket.schedules import Scheduler, SchedulerReport
from taskbasket.schedules.operations import announce_fired, slot_task, write_declared

if TYPE_CHECKING:
    from taskbasket.basket import Basket


def fire_schedules(basket: Basket) -> SchedulerReport:
    """Write the basket's ``@basket.periodic`` schedules (as a starting worker does), then
    fire every due slot of the stored schedules of its tasks; what the pass did."""
    write_declared(basket)
    return scheduler_of(basket).run_once()


def scheduler_of(basket: Basket) -> Scheduler:
    """A scheduler of ``basket``'s tasks on its store, as a worker's (``drain`` steps it)."""
    return Scheduler(basket.backend, names=lambda: list(basket.registry),
                     make_task=functools.partial(slot_task, basket),
                     on_fired=functools.partial(announce_fired, basket))


__all__ = ["fire_schedules", "scheduler_of"]
