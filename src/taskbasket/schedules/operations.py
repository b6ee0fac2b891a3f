"""Schedules in a store, as the client and the worker use them: write one (an upsert by
name), find one by name, make the task of a slot, and refuse a backend that keeps none."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from taskbasket.backends.base import (
    Backend,
    NewTask,
    ScheduleListParams,
    ScheduleUpsertParams,
    StoredSchedule,
)
from taskbasket.context import SCHEDULE_HEADER, SLOT_HEADER, TIMEZONE_HEADER
from taskbasket.definition import EnqueueOptions
from taskbasket.errors import UnknownScheduleError
from taskbasket.schedules.slots import next_slot
from taskbasket.schedules.spec import Schedule, ScheduleOptions, ScheduleSpec

if TYPE_CHECKING:
    from taskbasket.basket import Basket


@dataclass(frozen=True, slots=True)
class ScheduleDefinition:
    """A schedule as code declares it (``@basket.periodic``), written to the store when a
    worker starts."""

    name: str
    task_name: str
    spec: ScheduleSpec
    options: ScheduleOptions


def refuse_without_schedules(basket: Basket) -> None:
    """UnsupportedOperationError naming the transport, if the basket's backend cannot keep
    schedules (a message bus); read from the backend's class, so nothing connects."""
    backend: Any = basket._backend
    if backend is None:
        from taskbasket.backends import BACKENDS

        found = BACKENDS.get(urlsplit(basket.url).scheme.lower().split("+", 1)[0])
        if found is None:
            return  # the Basket refused the URL already, or it opens a store of its own
        backend = getattr(importlib.import_module(found[0]), found[1])
    if not backend.capabilities.schedules:
        if isinstance(backend, type):  # the class: its method, with the class as self
            raise backend.schedules_unsupported(backend)  # type: ignore[attr-defined]
        raise backend.schedules_unsupported()


def upsert(backend: Backend, definition: ScheduleDefinition) -> None:
    """Write ``definition`` to the store; its first slot is the next one after now (a
    schedule stored with the same cron or interval keeps its next slot)."""
    backend.schedules_upsert(ScheduleUpsertParams(
        name=definition.name, task_name=definition.task_name,
        spec=definition.spec.to_json(), options=definition.options.to_json(),
        next_run_at=next_slot(definition.spec, backend.now()),
    ))


def stored(backend: Backend, name: str) -> StoredSchedule:
    """The stored schedule ``name``; UnknownScheduleError (a LookupError) naming those
    that exist, if there is none."""
    rows = backend.schedules_list(ScheduleListParams([name]))
    if rows:
        return rows[0]
    names = [row.name for row in backend.schedules_list(ScheduleListParams())]
    import difflib

    close = difflib.get_close_matches(name, names, n=3)
    guess = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise UnknownScheduleError(
        f"no schedule named {name!r} is stored.{guess} Stored: "
        f"{', '.join(names) or 'none'}")


def slot_task(basket: Basket, schedule: Schedule, slot: datetime) -> NewTask:
    """The task of ``schedule``'s ``slot``: its call with the task's options (the queue
    stored with the schedule, where this basket does not register the task), and headers
    that ``current_task().schedule`` and ``.slot`` read."""
    from taskbasket.enqueueing import new_tasks

    headers = {SCHEDULE_HEADER: schedule.name, TIMEZONE_HEADER: schedule.timezone,
               SLOT_HEADER: slot.astimezone(schedule.spec.zone).isoformat()}
    known = schedule.task in basket.registry
    options = EnqueueOptions(queue=None if known else schedule.queue)
    return new_tasks(basket, schedule.task, [(schedule.args, schedule.kwargs)], options,
                     headers)[0]


def announce_fired(basket: Basket, task: NewTask) -> None:
    """The ``enqueued`` event of a slot's task, as for any enqueue."""
    from taskbasket.enqueueing import emit_enqueued
    from taskbasket.task import TaskRef

    emit_enqueued(basket.hooks, [task], [TaskRef(task.id)])


def write_declared(basket: Basket) -> int:
    """Write the basket's ``@basket.periodic`` schedules to its store; how many."""
    declared = list(basket.declared_schedules.values())
    for definition in declared:
        upsert(basket.backend, definition)
    return len(declared)
