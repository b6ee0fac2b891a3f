"""The schedule methods of the Basket: declare, write, list, pause, resume, trigger and
delete schedules (the semantics are in :mod:`taskbasket.schedules`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from taskbasket.backends.base import ScheduleDeleteParams, ScheduleListParams, SchedulePauseParams
from taskbasket.definition import TaskDefinition
from taskbasket.schedules import operations
from taskbasket.schedules.operations import ScheduleDefinition
from taskbasket.schedules.spec import Schedule, ScheduleOptions, ScheduleSpec
from taskbasket.task import TaskRef
from taskbasket.validation import check_name

if TYPE_CHECKING:
    from taskbasket.basket import Basket

P = ParamSpec("P")
R = TypeVar("R")

Every = float | int | timedelta


class Scheduling:
    """The Basket's schedule methods (mixed into :class:`taskbasket.Basket`)."""

    declared_schedules: dict[str, ScheduleDefinition]

    def _basket(self) -> Basket:
        from taskbasket.basket import Basket

        assert isinstance(self, Basket)
        return self

    def periodic(
        self, cron: str | None = None, *, every: Every | None = None, timezone: str = "UTC",
        args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
        overlap: str = "allow", catch_up: str = "latest", name: str | None = None,
        **task_options: Any,
    ) -> Callable[[Callable[P, R]], TaskDefinition[P, R]]:
        """Register a task (``task_options`` as for ``@basket.task``) and a schedule named
        after it, written to the store when a worker starts:
        ``@basket.periodic("*/5 * * * *", timezone="Europe/Berlin")``."""
        basket = self._basket()
        operations.refuse_without_schedules(basket)
        spec = ScheduleSpec.of(cron, every, timezone)

        def register(fn: Callable[P, R]) -> TaskDefinition[P, R]:
            definition = basket.task(name=name, **task_options)(fn)
            wired_args, wired_kwargs = _wired(definition, args, kwargs)
            options = ScheduleOptions.of(definition.name, wired_args, wired_kwargs, overlap,
                                         catch_up, definition.queue)
            definition.check_arguments([(options.args, options.kwargs)])
            self.declared_schedules[definition.name] = ScheduleDefinition(
                definition.name, definition.name, spec, options)
            return definition

        return register

    def schedule(
        self, name: str, task: TaskDefinition[Any, Any] | str, *, cron: str | None = None,
        every: Every | None = None, timezone: str = "UTC", args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None, overlap: str = "allow",
        catch_up: str = "latest",
    ) -> Schedule:
        """Write the schedule ``name`` to the store now (an upsert by name: a changed cron
        or interval takes effect from its next slot); the stored record. ``task`` is a
        registered task or its name."""
        basket = self._basket()
        operations.refuse_without_schedules(basket)
        check_name("schedule", name)
        task_name = task.name if isinstance(task, TaskDefinition) else check_name("task", task)
        definition = basket.get_definition(task_name)  # a task not registered raises
        spec = ScheduleSpec.of(cron, every, timezone)
        wired_args, wired_kwargs = _wired(definition, args, kwargs)
        options = ScheduleOptions.of(task_name, wired_args, wired_kwargs, overlap, catch_up,
                                     definition.queue)
        definition.check_arguments([(options.args, options.kwargs)])
        operations.upsert(basket.backend, ScheduleDefinition(name, task_name, spec, options))
        return Schedule.of_row(operations.stored(basket.backend, name))

    def schedules(self) -> list[Schedule]:
        """Every stored schedule, by name."""
        basket = self._basket()
        operations.refuse_without_schedules(basket)
        return [Schedule.of_row(row)
                for row in basket.backend.schedules_list(ScheduleListParams())]

    def get_schedule(self, name: str) -> Schedule:
        """The stored schedule ``name``; LookupError naming those that exist."""
        basket = self._basket()
        operations.refuse_without_schedules(basket)
        return Schedule.of_row(operations.stored(basket.backend, name))

    def pause_schedule(self, name: str) -> Schedule:
        """Stop ``name`` firing, on every worker, until it is resumed."""
        return self._set_paused(name, True)

    def resume_schedule(self, name: str) -> Schedule:
        """Let ``name`` fire again; the slots it missed follow its catch_up rule."""
        return self._set_paused(name, False)

    def _set_paused(self, name: str, paused: bool) -> Schedule:
        basket = self._basket()
        operations.refuse_without_schedules(basket)
        if not basket.backend.schedules_set_paused(SchedulePauseParams(name, paused)):
            operations.stored(basket.backend, name)  # raises, naming those that exist
        return Schedule.of_row(operations.stored(basket.backend, name))

    def trigger_schedule(self, name: str) -> TaskRef:
        """Enqueue one run of ``name`` now, outside its slots (its ``slot`` is now)."""
        basket = self._basket()
        operations.refuse_without_schedules(basket)
        schedule = Schedule.of_row(operations.stored(basket.backend, name))
        task = operations.slot_task(basket, schedule, basket.backend.now())
        return basket.backend.tasks_insert([task])[0]

    def delete_schedule(self, name: str) -> None:
        """Delete the schedule ``name`` (tasks it started stay). A ``@basket.periodic``
        schedule is written again when a worker of its code starts."""
        basket = self._basket()
        operations.refuse_without_schedules(basket)
        if not basket.backend.schedules_delete(ScheduleDeleteParams(name)):
            operations.stored(basket.backend, name)  # raises, naming those that exist


def _wired(definition: TaskDefinition[Any, Any], args: Sequence[Any],
           kwargs: Mapping[str, Any] | None) -> tuple[Sequence[Any], Mapping[str, Any] | None]:
    """A schedule's arguments with typed ones in their JSON form (``taskbasket.typed``),
    since a schedule stores JSON; arguments that are not a list and a dict, or do not bind,
    are left as they are for the checks that word those problems."""
    if not isinstance(args, list | tuple) or not isinstance(kwargs, Mapping | None):
        return args, kwargs
    call = (args, kwargs or {})
    if definition.arguments.problem(*call) is not None:
        return args, kwargs
    return definition.wire_calls([call])[0]

