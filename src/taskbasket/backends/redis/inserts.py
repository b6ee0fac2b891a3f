"""The insert script's arguments (``scripts/insert.lua``) for a batch of tasks, and the
references its replies give.

A run of tasks with the same options shares one header, so a batch of one task's calls
sends little more than ids and payloads; values are checked here, before anything is sent.
A batch of more than ``INSERT_CHUNK`` tasks is several calls, each of which first checks
the keys of every queue and name of the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskbasket.backends.base import NewTask
from taskbasket.backends.redis.records import text
from taskbasket.backends.redis.times import moment_us, seconds_us
from taskbasket.task import TaskRef

INSERT_CHUNK = 5000
"""At most this many tasks are inserted per script call (a call blocks Redis while it runs;
a bigger batch is several calls in one MULTI, which runs them back to back)."""


def insert_args(prefix: str, tasks: Sequence[NewTask], pairs: Sequence[str]) -> list[Any]:
    """One call's arguments: the prefix, the queue, name ``pairs`` to check as well, then
    groups of tasks that share their options."""
    args: list[Any] = [prefix, len(pairs) // 2, *pairs]
    options: tuple[Any, ...] | None = None
    head = 0
    for task in tasks:
        mine = (task.name, task.queue, task.priority, task.max_attempts, task.timeout,
                task.unique_key, task.delay, task.run_at, task.limit_key)
        if mine != options:
            if options is not None:
                args[head] = (len(args) - head - 10) // 2
            options, head = mine, len(args)
            if task.run_at is not None:
                mode, value = "a", moment_us(task.run_at)
            else:
                mode, value = "d", seconds_us(task.delay)
            args += (0, task.name, task.queue, int(task.priority), int(task.max_attempts),
                     repr(float(task.timeout)), task.unique_key or "", mode, value,
                     task.limit_key or "")
        args += (task.id, task.payload)
    args[head] = (len(args) - head - 10) // 2
    return args


def insert_calls(prefix: str, tasks: Sequence[NewTask]) -> list[list[Any]]:
    """The arguments of each call that inserts ``tasks`` (one unless the batch is bigger
    than ``INSERT_CHUNK``), in order."""
    if len(tasks) <= INSERT_CHUNK:
        return [insert_args(prefix, tasks, ())]
    # Each call first checks the keys of every queue and name of the whole batch, so a key
    # that would fail a later call fails the first before it writes.
    pairs = [x for pair in dict.fromkeys((t.queue, t.name) for t in tasks) for x in pair]
    return [
        insert_args(prefix, tasks[start:start + INSERT_CHUNK], pairs)
        for start in range(0, len(tasks), INSERT_CHUNK)
    ]


def task_refs(tasks: Sequence[NewTask], replies: Sequence[Any]) -> list[TaskRef]:
    """A reference per task: its own id, or the id of the task that holds its unique key
    (each reply lists position, holder pairs; positions count the call's tasks from 1)."""
    refs = [TaskRef(task.id, True) for task in tasks]
    for number, reply in enumerate(replies):
        for position, holder in zip(reply[::2], reply[1::2], strict=True):
            index = number * INSERT_CHUNK + int(position) - 1
            refs[index] = TaskRef(text(holder), False)
    return refs


__all__ = ["INSERT_CHUNK", "insert_args", "insert_calls", "task_refs"]
