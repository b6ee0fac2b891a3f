"""The memory store's workflow steps (the rules are ``workflow_params``'s), each run under
the store's lock by the operation that causes it, so it lands in the same atomic step."""

from __future__ import annotations

from collections.abc import Sequence

from taskbasket.backends.memory.store import MemoryStore, Record
from taskbasket.backends.params import NewTask
from taskbasket.backends.workflow_params import (
    BLOCKING_STATES,
    dependency_error,
    is_ready,
    unknown_dependency,
)
from taskbasket.task import State, TaskRef

_BLOCKING = frozenset(s.value for s in BLOCKING_STATES)


class MemoryWorkflowSteps:
    """The workflow steps on ``store`` at the store's time ``now``; the lock is held."""

    def __init__(self, store: MemoryStore, now: float) -> None:
        self.store = store
        self.now = now

    def check(self, tasks: Sequence[NewTask]) -> None:
        """WorkflowError if a dependency is neither stored nor earlier in ``tasks``."""
        seen: set[str] = set()
        for task in tasks:
            for dep in task.depends_on:
                if dep not in seen and dep not in self.store.tasks:
                    raise unknown_dependency(task.id, dep)
            seen.add(task.id)

    def insert(self, tasks: Sequence[NewTask], refs: Sequence[TaskRef]) -> None:
        """After ``tasks`` were added: keep their edges, set workflow and state."""
        existing = {task.id: ref.id for task, ref in zip(tasks, refs, strict=True)}
        store = self.store
        for task, ref in zip(tasks, refs, strict=True):
            if not ref.created:
                continue
            record = store.tasks[task.id]
            record.workflow_id = task.workflow_id
            if not task.depends_on:
                continue
            deps = list(dict.fromkeys(existing.get(dep, dep) for dep in task.depends_on))
            store.dependencies[task.id] = deps
            for dep in deps:
                store.dependents.setdefault(dep, []).append(task.id)
            parents = [store.tasks[dep] for dep in deps]
            pending = sum(1 for p in parents if p.state_value != State.SUCCEEDED.value)
            blocker = next((p for p in parents if p.state_value in _BLOCKING), None)
            if blocker is not None:
                store.change(record, self.now, state=State.CANCELLED, finished_at=self.now,
                             waiting_on=pending, blocked_by=blocker.id,
                             last_error=self._error(blocker))
            elif not is_ready([State(p.state_value) for p in parents]):
                store.change(record, self.now, state=State.WAITING, waiting_on=pending)

    @staticmethod
    def _error(parent: Record) -> str:
        return dependency_error(parent.id, parent.name, parent.state_value, parent.last_error)

    def _children(self, task_id: str) -> list[Record]:
        tasks = self.store.tasks
        return [tasks[c] for c in self.store.dependents.get(task_id, ()) if c in tasks]

    def release(self, succeeded: Sequence[str]) -> int:
        """Count the successes down in their dependents; queue those with none left."""
        released = 0
        for task_id in succeeded:
            for child in self._children(task_id):
                child.waiting_on -= 1
                if child.waiting_on <= 0 and child.state_value == State.WAITING.value:
                    self.store.change(child, self.now, state=State.QUEUED, run_at=self.now)
                    released += 1
        return released

    def cascade(self, ended: Sequence[str]) -> None:
        """Cancel the waiting dependents of tasks that ended failed or cancelled, and
        theirs in turn."""
        frontier = list(ended)
        while frontier:
            parent = self.store.tasks.get(frontier.pop(0))
            if parent is None:
                continue
            for child in self._children(parent.id):
                if child.state_value == State.WAITING.value:
                    self.store.change(child, self.now, state=State.CANCELLED,
                                      finished_at=self.now, blocked_by=parent.id,
                                      last_error=self._error(parent))
                    frontier.append(child.id)

    def restore(self, retried: Sequence[str]) -> None:
        """Retried tasks with dependencies left wait again; the dependents they blocked
        come back, unless another dependency still blocks them."""
        tasks = self.store.tasks
        for task_id in retried:
            record = tasks.get(task_id)
            if record is not None and record.waiting_on > 0:
                self.store.change(record, self.now, state=State.WAITING, blocked_by=None)
        frontier = list(retried)
        while frontier:
            parent_id = frontier.pop(0)
            for child in self._children(parent_id):
                if (child.state_value != State.CANCELLED.value
                        or child.blocked_by != parent_id or self._still_blocked(child)):
                    continue
                self.store.change(
                    child, self.now,
                    state=State.WAITING if child.waiting_on > 0 else State.QUEUED,
                    blocked_by=None, last_error=None, finished_at=None, attempts=0,
                    snoozes=0, run_at=self.now)
                frontier.append(child.id)

    def _still_blocked(self, child: Record) -> bool:
        tasks = self.store.tasks
        return any(dep in tasks and tasks[dep].state_value in _BLOCKING
                   for dep in self.store.dependencies.get(child.id, ()))


__all__ = ["MemoryWorkflowSteps"]
