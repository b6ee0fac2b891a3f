"""The client's checks of a task's dependencies (``after=``, chains and groups) before the
store inserts it: refs of this store only, a store that keeps workflows, no cycle, and the
workflow a task joins."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from taskbasket.backends.base import Backend, StoredTask
from taskbasket.backends.workflow_params import unknown_dependency
from taskbasket.errors import ConfigurationError, UnsupportedOperationError, WorkflowError
from taskbasket.redaction import redact_url
from taskbasket.task import TaskRef


def check_workflows(backend: Backend, url: str) -> None:
    """UnsupportedOperationError naming the store if it cannot keep workflows."""
    if not backend.capabilities.workflows:
        scheme = urlsplit(url).scheme or url
        raise UnsupportedOperationError(
            f"the {scheme} transport cannot keep workflows (after=, chain, group): it keeps "
            "no task rows to wait on; use a store (sqlite, postgresql, mysql, redis, memory)")


def dependency_ids(after: Iterable[Any], url: str) -> list[str]:
    """The ids of ``after`` (TaskRefs or ids), once each, in order; WorkflowError for a
    ref enqueued through a basket on another store."""
    if isinstance(after, str | TaskRef):
        after = [after]
    ids: list[str] = []
    for item in after:
        if isinstance(item, TaskRef):
            other = getattr(item.basket, "url", None)
            if other is not None and other != url:
                raise WorkflowError(
                    f"dependency {item.id} was enqueued in another store "
                    f"({redact_url(other)}), not this basket's ({redact_url(url)}); a task "
                    "can only wait for tasks of its own store")
            ids.append(item.id)
        elif isinstance(item, str):
            ids.append(item)
        else:
            raise ConfigurationError(
                f"after= takes TaskRefs or task ids, got {type(item).__name__}")
    return list(dict.fromkeys(ids))


def joined_workflow(backend: Backend, task_id: str, dependencies: Sequence[str]) -> str:
    """The workflow a task with these stored dependencies joins: its first dependency's
    (that task's own id when it belongs to none). WorkflowError for an unknown one."""
    stored = backend.tasks_get(dependencies[0])
    if stored is None:
        raise unknown_dependency(task_id, dependencies[0])
    if isinstance(stored, StoredTask) and stored.workflow_id:
        return stored.workflow_id
    return stored.id


def check_acyclic(edges: Mapping[str, Sequence[str]]) -> None:
    """WorkflowError naming the tasks of a cycle if ``edges`` (task -> its dependencies,
    those outside ``edges`` already stored) has one."""
    inside = {node: [dep for dep in deps if dep in edges] for node, deps in edges.items()}
    dependents: dict[str, list[str]] = {node: [] for node in edges}
    for node, deps in inside.items():
        for dep in deps:
            dependents[dep].append(node)
    pending = {node: len(deps) for node, deps in inside.items()}
    ready = [node for node, count in pending.items() if count == 0]
    while ready:
        for dependent in dependents[ready.pop()]:
            pending[dependent] -= 1
            if pending[dependent] == 0:
                ready.append(dependent)
    stuck = [node for node, count in pending.items() if count > 0]
    if stuck:
        raise WorkflowError(
            f"the workflow has a cycle among {', '.join(stuck[:5])}"
            f"{' ...' if len(stuck) > 5 else ''}: a task cannot wait for itself, directly "
            "or through others. Nothing was inserted")


__all__ = ["check_acyclic", "check_workflows", "dependency_ids", "joined_workflow"]
