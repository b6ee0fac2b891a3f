"""``inline(basket)``: within the block, enqueueing a task runs it at once, in the
calling thread, instead of storing it.

The call is checked, encoded and passed through enqueue middleware exactly as a real
enqueue is; then the handler runs as a worker runs it (``testing/attempt.py``), and a
failed attempt that may retry is retried at once (backoff and ``Retry(delay=...)`` are
not waited out), and a ``Snooze`` runs the same attempt again at once, counted against
``max_snoozes`` (past it, ``TaskFailed`` naming the cap propagates). When the last
attempt fails, its exception propagates from the enqueue call; ``Fail`` and arguments
that do not bind fail at once, as they do in a worker.
Tasks that the handler enqueues run inline too, depth first. Nothing reaches the store:
``basket.get(ref.id)`` finds no inline task (``ref.result()`` returns its result, kept
by the basket), and a ``delay`` or ``run_at`` is ignored (the task runs now). Running in
the caller's thread is what lets a handler see the test's open transaction (Django's
``TestCase``, a SQLAlchemy session).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from taskbasket.backends.base import ClaimedTask, NewTask, Outcome, OutcomeKind
from taskbasket.errors import Snooze, TaskFailed
from taskbasket.task import TaskRef
from taskbasket.testing.attempt import AttemptRunner
from taskbasket.testing.draining import DEFAULT_MAX_TASKS, DrainLimitError
from taskbasket.worker.executors import is_timeout

if TYPE_CHECKING:
    from taskbasket.basket import Basket


class InlineRunner:
    """What a basket in inline mode calls in place of storing its new tasks."""

    def __init__(self, basket: Basket, max_tasks: int = DEFAULT_MAX_TASKS) -> None:
        self.runner = AttemptRunner(basket)
        self.max_tasks = max_tasks

    def _claimed(self, task: NewTask, attempt: int, snoozes: int = 0) -> ClaimedTask:
        now = datetime.now(UTC)
        return ClaimedTask(
            id=task.id, name=task.name, queue=task.queue, payload=task.payload,
            priority=task.priority, attempts=attempt, max_attempts=task.max_attempts,
            timeout=task.timeout, lease_token=f"inline-{attempt}", created_at=now, run_at=now,
            unique_key=task.unique_key, snoozes=snoozes)

    def _keep_result(self, task: NewTask, outcome: Outcome) -> None:
        """A succeeded inline task's result, for ``ref.result()`` (the store has none)."""
        if outcome.kind is OutcomeKind.SUCCEEDED:
            basket = self.runner.basket
            if basket.inline_results is None:
                basket.inline_results = {}
            basket.inline_results[task.id] = outcome.result

    def _check_limit(self, task: NewTask) -> None:
        if self.runner.stats["claimed"] >= self.max_tasks:
            raise DrainLimitError(
                f"inline mode ran {self.max_tasks} attempts (the next: {task.name}): does a "
                "task enqueue itself for ever? Pass inline(basket, max_tasks=...) if so many "
                "are meant")

    def run(self, tasks: Sequence[NewTask]) -> list[TaskRef]:
        """Run each task to its end, here; its ref. The last error propagates."""
        for task in tasks:
            step: tuple[int, int] | None = (1, 0)
            while step is not None:
                self._check_limit(task)
                job = self.runner.job(self._claimed(task, *step))
                outcome, error = self.runner.run(job)
                self.runner.telemetry.recorded(job, outcome, True)
                step = _next_attempt(task, outcome, *step)
            _raise_if_failed(task, outcome, error)
            self._keep_result(task, outcome)
        return [TaskRef(task.id) for task in tasks]

    async def run_async(self, tasks: Sequence[NewTask]) -> list[TaskRef]:
        """``run`` on the running event loop: async handlers are awaited on it."""
        for task in tasks:
            step: tuple[int, int] | None = (1, 0)
            while step is not None:
                self._check_limit(task)
                job = self.runner.job(self._claimed(task, *step))
                outcome, error = await self.runner.run_async(job)
                self.runner.telemetry.recorded(job, outcome, True)
                step = _next_attempt(task, outcome, *step)
            _raise_if_failed(task, outcome, error)
            self._keep_result(task, outcome)
        return [TaskRef(task.id) for task in tasks]


def _next_attempt(task: NewTask, outcome: Outcome, attempt: int,
                  snoozes: int) -> tuple[int, int] | None:
    """The (attempt, snoozes) to run next after ``outcome``, or None: the task is done. A
    snooze runs the same attempt again; a retry the next, while attempts are left."""
    if outcome.kind is OutcomeKind.DEFERRED:
        return attempt, snoozes + outcome.snoozes_added
    if outcome.kind is OutcomeKind.RETRY and attempt < task.max_attempts:
        return attempt + 1, snoozes
    return None


def _raise_if_failed(task: NewTask, outcome: Outcome, error: BaseException | None) -> None:
    kind, text = outcome.kind, outcome.error
    if kind is OutcomeKind.FAILED and isinstance(error, Snooze):  # past max_snoozes
        raise TaskFailed(task.id, "failed", text)
    if kind is OutcomeKind.FAILED and error is None:  # the handler returned, unstorably
        from taskbasket.results import UnstorableResult

        raise UnstorableResult(text or "the task's result cannot be stored")
    if kind is OutcomeKind.FAILED and error is not None:
        if is_timeout(error):
            from taskbasket.errors import TaskTimeout

            raise TaskTimeout("the task ran past its timeout (inline mode)") from None
        raise error


@contextlib.contextmanager
def inline(basket: Basket, *, max_tasks: int = DEFAULT_MAX_TASKS) -> Iterator[InlineRunner]:
    """Run every task ``basket`` enqueues within the block at once, in this thread (see
    the module's docstring); the runner's ``runner.stats`` counts the attempts."""
    runner = InlineRunner(basket, max_tasks)
    previous = basket.inline_runner
    basket.inline_runner = runner
    try:
        yield runner
    finally:
        basket.inline_runner = previous


__all__ = ["InlineRunner", "inline"]
