"""What a store keeps and does for workflows (``capabilities.workflows``), decided once.

A task inserted with ``NewTask.depends_on`` keeps one edge per dependency. The rules every
store applies, each in the atomic step named:

- **Ready** (``is_ready``): a task is ready when every dependency ``succeeded``. A store
  counts the dependencies not succeeded yet in the task's row; at insert a task with a
  count above zero is ``waiting``.
- **Release** (in the step that records a success, ``tasks_finish``): each dependent's
  count drops by one, and a ``waiting`` dependent whose count reaches zero becomes
  ``queued``, due now.
- **Cascade** (in the step that makes a task ``failed`` or ``cancelled``: ``tasks_finish``,
  ``leases_rescue``, ``tasks_cancel``): its ``waiting`` dependents, and theirs in turn,
  become ``cancelled`` with ``last_error`` from ``dependency_error`` and the id of the
  dependency that blocked them kept (``blocked_by``). A task inserted after a dependency
  that already ended failed or cancelled is inserted cancelled the same way.
- **Restore** (in ``tasks_retry``): a retried task whose count is above zero goes back to
  ``waiting``, not ``queued``; and the dependents it had blocked (transitively) go back
  to ``waiting`` (``queued`` if their count is zero), their error cleared.
- **Checks** (in ``tasks_insert``): a dependency that is neither stored nor earlier in the
  batch raises ``unknown_dependency`` and nothing of the batch is inserted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from taskbasket.errors import WorkflowError
from taskbasket.task import State, error_line

BLOCKING_STATES: frozenset[State] = frozenset({State.FAILED, State.CANCELLED})
"""A dependency that ends in one of these cancels its waiting dependents."""


def is_ready(dependency_states: Sequence[State]) -> bool:
    """True when a task whose dependencies are in these states may run."""
    return all(state is State.SUCCEEDED for state in dependency_states)


def dependency_error(dependency_id: str, dependency_name: str, state: str,
                     error: str | None) -> str:
    """The ``last_error`` of a task cancelled because ``dependency_id`` ended ``state``
    (failed or cancelled) with ``error``: names the dependency, and why."""
    why = error_line(error)
    return (f"dependency {dependency_id} ({dependency_name}) ended {state}"
            + (f": {why}" if why else ""))


def unknown_dependency(task_id: str, dependency_id: str) -> WorkflowError:
    """The error of an insert whose task depends on a task the store does not hold."""
    return WorkflowError(
        f"task {task_id} depends on {dependency_id}, which is not in this store (unknown "
        "id, deleted, or kept in another store); nothing of the workflow was inserted. "
        "Pass the TaskRef or id of a task enqueued in this basket's store")


@dataclass(frozen=True, slots=True)
class DependenciesListParams:
    """The dependency ids of each of ``task_ids``, in the order they were given."""

    task_ids: Sequence[str]


__all__ = ["BLOCKING_STATES", "DependenciesListParams", "dependency_error", "is_ready",
           "unknown_dependency"]
