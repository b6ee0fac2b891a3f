"""``drain`` and ``drain_async``: run every due task of a basket in the calling thread,
including the tasks those tasks enqueue, and say how each attempt ended.

Nothing runs in the background: each task is claimed, run (``testing/attempt.py``: the
context, middleware, hooks and outcome rules of a worker) and recorded before the next
is claimed, so a test sees every effect once ``drain`` returns. A retry with backoff, a
delayed task or a schedule waits for its time, as with a worker; on a store with a
:class:`~taskbasket.testing.FakeClock` (``Basket("memory://", clock=clock)``),
``advance_time=True`` moves the clock to the next such time whenever nothing else is
due, so they all run at once. Due slots of the basket's schedules (``@basket.periodic``
and ``basket.schedule``) are fired whenever nothing else is due, as a worker fires them;
``advance_time`` never moves the clock to a slot (a schedule has no end), so advance the
clock yourself to reach one. After ``max_tasks`` attempts with work still due,
``DrainLimitError``: a task that enqueues itself for ever stops the test instead of
hanging it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from taskbasket.backends.base import (
    ClaimedTask,
    ClaimParams,
    LeaseExtendParams,
    Outcome,
    OutcomeKind,
)
from taskbasket.errors import ConfigurationError, TaskbasketError
from taskbasket.task import State, Task
from taskbasket.testing.attempt import AttemptRunner, LoopRunning
from taskbasket.worker.completer import store_ready
from taskbasket.worker.durable import after_recorded
from taskbasket.worker.inputs import InputsError, with_inputs
from taskbasket.worker.job import Job

if TYPE_CHECKING:
    from taskbasket.basket import Basket

DEFAULT_MAX_TASKS = 10_000
_LEASE = 3600.0
"""A drain's claims hold their task this long (no heartbeat runs while a handler does);
a task whose timeout needs more is extended to its timeout plus ``_MARGIN``."""
_MARGIN = 60.0
_COUNTED = ("succeeded", "retried", "failed", "timed_out", "lost_leases")


class DrainLimitError(TaskbasketError, RuntimeError):
    """``drain`` ran ``max_tasks`` attempts and tasks were still due."""


class DrainSummary(Mapping[str, int]):
    """How the attempts of one ``drain`` ended: ``summary["succeeded"]`` or
    ``summary.succeeded``, and ``retried``, ``failed``, ``timed_out`` (also counted as
    retried or failed), ``lost_leases`` (an outcome the store refused: the task was
    cancelled or deleted meanwhile); ``attempts`` is every attempt run."""

    def __init__(self, counts: Mapping[str, int], attempts: int) -> None:
        self._counts = {key: int(counts.get(key, 0)) for key in _COUNTED}
        self.attempts = attempts

    def __getitem__(self, key: str) -> int:
        return self._counts[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._counts)

    def __len__(self) -> int:
        return len(self._counts)

    def __getattr__(self, name: str) -> int:
        try:
            return self.__dict__["_counts"][name]  # type: ignore[no-any-return]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self._counts.items())
        return f"DrainSummary(attempts={self.attempts}, {counts})"


def _fake_clock(basket: Basket) -> Any:
    from taskbasket.testing.clock import FakeClock

    clock = getattr(basket.backend, "clock", None)
    if not isinstance(clock, FakeClock):
        raise ConfigurationError(
            f"drain(advance_time=True) needs a store on a FakeClock, and {basket!r} has "
            "none: use Basket('memory://', clock=FakeClock()) (or with isolated(basket, "
            "clock=FakeClock()))")
    return clock


class _Drain:
    """The loop both ``drain`` and ``drain_async`` step through."""

    def __init__(self, basket: Basket, queues: Sequence[str] | None, advance_time: bool,
                 max_tasks: int) -> None:
        if isinstance(max_tasks, bool) or not isinstance(max_tasks, int) or max_tasks < 1:
            raise ConfigurationError(f"max_tasks must be an int >= 1, got {max_tasks!r}")
        self.basket = basket
        self.queues = list(queues) if queues else None
        self.clock: Any = _fake_clock(basket) if advance_time else None
        self.max_tasks = max_tasks
        self.runner = AttemptRunner(basket)
        self.worker_id = f"drain:{os.getpid()}"
        self.scheduler: Any = None
        if basket.backend.capabilities.schedules:  # due schedule slots are due work too
            from taskbasket.schedules.operations import write_declared
            from taskbasket.testing.schedules import scheduler_of

            write_declared(basket)
            self.scheduler = scheduler_of(basket)

    def next(self) -> ClaimedTask | None:
        """The next due task, claimed (the clock advanced to it if need be), or None."""
        backend = self.basket.backend
        while True:
            names = sorted(self.basket.registry)
            claimed = backend.tasks_claim(ClaimParams(
                self.worker_id, names, 1, _LEASE, queues=self.queues))
            if claimed:
                if self.runner.stats["claimed"] >= self.max_tasks:
                    backend.tasks_finish([_released(claimed[0])])
                    raise DrainLimitError(
                        f"drain ran {self.max_tasks} attempts and tasks are still due (the "
                        f"next: {claimed[0].name}): does a task enqueue itself for ever? "
                        "Pass max_tasks=... if so many are meant")
                task = claimed[0]
                if task.timeout + _MARGIN > _LEASE:  # no heartbeats here: outlast the handler
                    backend.leases_extend(LeaseExtendParams([task.lease], task.timeout + _MARGIN))
                try:
                    return with_inputs(backend, task)  # a workflow step's inputs
                except InputsError as exc:
                    backend.tasks_finish([Outcome(task.lease, OutcomeKind.FAILED, str(exc))])
                    continue
            if self.scheduler is not None and self.scheduler.run_once().ran:
                continue  # slots came due: their tasks are queued now
            if self.clock is None or not self._advance(names):
                return None

    def _advance(self, names: list[str]) -> bool:
        """Move the fake clock to the earliest waiting task's time; False if none waits."""
        waiting = [t.run_at for t in _waiting(self.basket, names, self.queues)]
        if not waiting:
            return False
        earliest: datetime = min(waiting)
        self.clock.advance(max(0.0, (earliest - self.clock.now()).total_seconds()) + 1e-6)
        return True

    def record(self, job: Job, outcome: Outcome) -> None:
        job.worker_id = self.worker_id
        outcome = store_ready(self.basket.backend, job, outcome)
        [accepted] = self.basket.backend.tasks_finish([outcome])
        self.runner.telemetry.recorded(job, outcome, accepted)
        after_recorded(self.basket.backend, job, outcome, accepted)

    def summary(self) -> DrainSummary:
        stats = self.runner.stats.snapshot()
        return DrainSummary(stats, stats["claimed"])


def _released(task: ClaimedTask) -> Outcome:
    return Outcome(task.lease, OutcomeKind.RELEASED)


def _waiting(basket: Basket, names: list[str], queues: list[str] | None) -> list[Task]:
    """The tasks waiting for their time (scheduled or retrying), in one listing."""
    return list(basket.list([State.SCHEDULED, State.RETRYING], queue=queues, name=names,
                            limit=100_000, with_arguments=False))


def drain(basket: Basket, *, queues: Sequence[str] | None = None, advance_time: bool = False,
          max_tasks: int = DEFAULT_MAX_TASKS) -> DrainSummary:
    """Run every due task of ``basket`` (of ``queues``, if given) here and now, until none
    is due; how the attempts ended. See the module's docstring."""
    loop = _Drain(basket, queues, advance_time, max_tasks)
    while (task := loop.next()) is not None:
        job = loop.runner.job(task)
        try:
            outcome, _ = loop.runner.run(job)
        except LoopRunning:
            basket.backend.tasks_finish([_released(task)])  # back to queued, unattempted
            raise
        loop.record(job, outcome)
    return loop.summary()


async def drain_async(basket: Basket, *, queues: Sequence[str] | None = None,
                      advance_time: bool = False,
                      max_tasks: int = DEFAULT_MAX_TASKS) -> DrainSummary:
    """``drain`` inside a running event loop: async handlers run on it."""
    loop = _Drain(basket, queues, advance_time, max_tasks)
    while (task := loop.next()) is not None:
        job = loop.runner.job(task)
        outcome, _ = await loop.runner.run_async(job)
        loop.record(job, outcome)
    return loop.summary()


__all__ = ["DEFAULT_MAX_TASKS", "DrainLimitError", "DrainSummary", "drain", "drain_async"]
