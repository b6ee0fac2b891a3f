"""A workflow as the inspector sees it: its tasks, their states and their dependencies."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from taskbasket.backends.base import Backend, ListParams, TaskFilter
from taskbasket.backends.workflow_params import DependenciesListParams
from taskbasket.inspection import readable, to_task
from taskbasket.task import State, Task

WORKFLOW_LIMIT = 100_000
"""The most tasks one workflow listing reads."""


@dataclass(frozen=True)
class Workflow:
    """A snapshot of a workflow: ``tasks`` oldest first, and the ids each task depends on
    (``dependencies[task.id]``, in the order given)."""

    id: str
    tasks: list[Task]
    dependencies: dict[str, list[str]] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise LookupError(f"task {task_id} is not in workflow {self.id}")

    @property
    def state(self) -> State:
        """``succeeded`` when every task did; ``failed`` or ``cancelled`` when every task
        is final and one ended so (failed first); otherwise the state of the least
        advanced task (waiting before queued before running)."""
        states = {task.state for task in self.tasks}
        if states <= {State.SUCCEEDED}:
            return State.SUCCEEDED
        if all(state.is_final for state in states):
            return State.FAILED if State.FAILED in states else State.CANCELLED
        for state in (State.RUNNING, State.RETRYING, State.QUEUED, State.SCHEDULED):
            if state in states:
                return state
        return State.WAITING

    def dependents(self, task_id: str) -> list[str]:
        """The ids of the tasks that wait for ``task_id``, oldest first."""
        return [task.id for task in self.tasks if task_id in self.dependencies.get(task.id, [])]


def read_workflow(backend: Backend, workflow_id: str) -> Workflow:
    """What :meth:`Basket.workflow <taskbasket.Basket.workflow>` returns."""
    rows = backend.tasks_list(ListParams(TaskFilter(workflow_id=str(workflow_id)),
                                         limit=WORKFLOW_LIMIT))  # results: with payloads
    tasks = sorted((to_task(readable(row), with_arguments=False) for row in rows),
                   key=lambda task: task.id)
    if not tasks:
        raise LookupError(f"no workflow {workflow_id} in this store (its tasks were "
                          "deleted or pruned, or the id is wrong)")
    dependencies = backend.dependencies_list(
        DependenciesListParams([task.id for task in tasks]))
    return Workflow(str(workflow_id), tasks, {t.id: dependencies.get(t.id, []) for t in tasks})


__all__ = ["WORKFLOW_LIMIT", "Workflow", "read_workflow"]
