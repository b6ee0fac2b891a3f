"""The worker's side of durable steps: each attempt gets its ``StepRunner`` (where the
store keeps steps and the executor runs in this process), and an attempt that ended
waiting for a message is woken if the message came while it was ending."""

from __future__ import annotations

import logging

from taskbasket.backends.base import Backend, Outcome, OutcomeKind
from taskbasket.steps.runner import StepRunner, wake_if_sent
from taskbasket.worker.job import Job

log = logging.getLogger("taskbasket.worker")


def attach_steps(job: Job, backend: Backend, max_result_bytes: int) -> None:
    """Give ``job`` its step runner, unless its store keeps no steps or its handler runs
    in a child process (there ``ctx.step`` raises UnsupportedOperationError)."""
    if backend.capabilities.steps and job.definition.executor != "process":
        job.steps = StepRunner(backend, job.claimed, max_result_bytes)


def after_recorded(backend: Backend, job: Job, outcome: Outcome, accepted: bool | None
                   ) -> None:
    """Once a receive's wait is recorded, wake the task if its message is already there
    (a send to a task still running cannot wake it). A failure is logged: the task then
    wakes at the receive's timeout, its message kept."""
    steps = job.steps
    if not accepted or outcome.kind is not OutcomeKind.DEFERRED or steps is None or (
            steps.receiving is None):
        return
    try:
        wake_if_sent(backend, job.claimed.id)
    except Exception as exc:
        log.warning("task %s (%s): could not check for a message sent while it began to "
                    "wait (%s: %s); it wakes at its receive's timeout", job.claimed.id,
                    job.claimed.name, type(exc).__name__, exc)
