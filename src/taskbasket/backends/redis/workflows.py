"""The Redis store's workflows: the insert of tasks with dependencies (one script call:
``workflow_insert``, the insert wrapped between the check of the dependencies and the
link of the new tasks), a workflow's ids for its filters, and the listing of edges. The
release, cascade and restore run inside the finish, rescue and operator scripts
(``scripts/lib_workflow.lua``)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from typing import Any

import redis
import redis.exceptions

from taskbasket.backends.params import NewTask, TaskFilter
from taskbasket.backends.redis.connections import KeptConnections
from taskbasket.backends.redis.inserts import INSERT_CHUNK, insert_args, task_refs
from taskbasket.backends.redis.records import text
from taskbasket.backends.redis.scripts import RedisScripts
from taskbasket.backends.workflow_params import DependenciesListParams, unknown_dependency
from taskbasket.errors import ConfigurationError
from taskbasket.task import TaskRef

_UNKNOWN = re.compile(r"taskbasket workflow: unknown dependency (\S+) (\S+)")


def in_workflow(tasks: Sequence[NewTask]) -> bool:
    return any(task.depends_on or task.workflow_id for task in tasks)


class RedisWorkflows:
    """Mixed into ``RedisBackend``."""

    prefix: str
    _client: redis.Redis
    _kept: KeptConnections
    _scripts: RedisScripts

    def _insert_workflow(self, tasks: Sequence[NewTask]) -> list[TaskRef]:
        if len(tasks) > INSERT_CHUNK:
            raise ConfigurationError(
                f"a workflow of {len(tasks)} tasks is over the Redis store's limit of "
                f"{INSERT_CHUNK} per atomic insert; split it into workflows joined by after=")
        spec = json.dumps([[t.id, list(t.depends_on), t.workflow_id or False] for t in tasks])
        try:
            reply = self._kept.evalsha(self._scripts.workflow_insert,
                                       [*insert_args(self.prefix, tasks, ()), spec])
        except redis.exceptions.ResponseError as exc:
            found = _UNKNOWN.search(str(exc))
            if found is None:
                raise
            raise unknown_dependency(found.group(1), found.group(2)) from None
        return task_refs(tasks, [reply])

    def _resolved(self, task_filter: TaskFilter) -> TaskFilter:
        """``task_filter`` with its workflow turned into the ids of its tasks."""
        workflow_id = task_filter.workflow_id
        if workflow_id is None:
            return task_filter
        members = self._client.zrange(f"{self.prefix}:wf:{workflow_id}", 0, -1)
        ids = [*(text(raw) for raw in members), str(workflow_id)]
        if task_filter.ids is not None:
            chosen = {str(i) for i in task_filter.ids}
            ids = [i for i in ids if i in chosen]
        return dataclasses.replace(task_filter, ids=ids, workflow_id=None)

    def dependencies_list(self, params: DependenciesListParams) -> dict[str, list[str]]:
        pipe: Any = self._client.pipeline(transaction=False)
        for task_id in params.task_ids:
            pipe.lrange(f"{self.prefix}:deps:{task_id}", 0, -1)
        replies = pipe.execute() if params.task_ids else []
        return {task_id: [text(raw) for raw in reply]
                for task_id, reply in zip(params.task_ids, replies, strict=True)}


__all__ = ["RedisWorkflows", "in_workflow"]
