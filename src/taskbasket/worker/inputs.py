"""What a workflow's task receives from the tasks before it, read from the store when it
is claimed: a chain's step gets the previous step's result as its first positional
argument, a step after a group the list of the group's results, in order.

The enqueue records which tasks' results a task receives in the ``INPUTS_HEADER`` header
of its payload (``{"ids": [...], "list": bool}``); ``with_inputs`` turns that into the
argument, so every executor (thread, async, process) runs the call as stored.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from taskbasket.backends.base import Backend, ClaimedTask, StoredTask
from taskbasket.codec import decode_payload
from taskbasket.task import State

INPUTS_HEADER = "taskbasket-inputs"


class InputsError(Exception):
    """A task's inputs cannot be read (a dependency deleted, or without a result)."""


def inputs_header(ids: Sequence[str], as_list: bool) -> str:
    """The header value of a task that receives the results of ``ids``."""
    return json.dumps({"ids": list(ids), "list": as_list})


def _result(backend: Backend, task_id: str, parent: str) -> Any:
    stored = backend.tasks_get(parent)
    if not isinstance(stored, StoredTask) or stored.state is not State.SUCCEEDED:
        state = "missing" if stored is None else getattr(stored, "state", "unreadable")
        raise InputsError(
            f"task {task_id} receives the result of {parent}, which is {state} (deleted, "
            "pruned or run with delete_on_success?); keep a workflow's tasks until it ends")
    return None if stored.result is None else json.loads(stored.result)


def with_inputs(backend: Backend, task: ClaimedTask) -> ClaimedTask:
    """``task`` with the results it receives put first in its arguments; unchanged if it
    receives none. Raises InputsError when a result cannot be read."""
    if INPUTS_HEADER not in task.payload:  # a cheap test: most tasks receive nothing
        return task
    args, kwargs, headers = decode_payload(task.id, task.payload)
    spec = headers.pop(INPUTS_HEADER, None)
    if spec is None:
        return task
    wanted = json.loads(spec)
    results = [_result(backend, task.id, parent) for parent in wanted["ids"]]
    document: dict[str, Any] = {
        "args": [results if wanted["list"] else results[0], *args], "kwargs": kwargs}
    if headers:
        document["headers"] = headers
    return dataclasses.replace(task, payload=json.dumps(document))


__all__ = ["INPUTS_HEADER", "InputsError", "inputs_header", "with_inputs"]
