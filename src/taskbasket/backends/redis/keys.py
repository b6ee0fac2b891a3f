"""The Redis store's key layout under one prefix, as Python reads it (the Lua scripts build
the same names in ``scripts/lib_base.lua`` and ``scripts/insert.lua``: change all together).

Layout under the prefix ``P`` (``?prefix=`` in the URL, default ``taskbasket``)::

    P:t:<id>                    hash: the task (times in integer microseconds)
    P:ready:<queue>\\t<name>     ready (queued) tasks, a sorted set in lexical order whose
                                members are <32767 - priority, 4 hex digits><run_at,
                                16 digits><id>: priority desc, then run_at, then id
    P:sched                     scheduled and retrying tasks, scored by run_at
    P:lease                     running tasks, scored by lease expiry
    P:done:<state>              final tasks of one state, scored by finish time
    P:idx:<state>:<queue>\\t<name> ids of the tasks in one state, queue and name (lex);
                                those of ``queued`` are, in id (enqueue) order, what a
                                claim in ClaimOrder.CREATED walks
    P:counts                    hash "<queue>\\t<state>" -> count
    P:unique                    hash unique key -> id of the task that is not final
    P:pairs                     hash "<queue>\\t<name>" -> count: the queues and names in use
    P:wake:<queue>, P:wake-all  wake-up lists for idle workers
    P:wake-close:<random>       the list one listener's ``close`` pushes to
    P:finished                  a pub/sub channel: a batch of outcomes ended tasks
    P:leader:<name>             the holder of a leader lock
    P:schema                    the layout version
    P:deps:<id>, P:dependents:<id>  lists: the ids a task depends on, and those that
                                depend on it (``scripts/lib_workflow.lua``)
    P:wf:<workflow id>          the ids of a workflow's tasks (lex)
    P:workers                   hash worker id -> info (the worker registry, workers.py)
    P:workers:started           hash worker id -> started_at (microseconds)
    P:workers:seen              worker ids scored by last_seen_at (microseconds)
"""

from __future__ import annotations

import os
from collections.abc import Iterable

LISTED_FIELDS = (
    "name", "queue", "state", "priority", "attempts", "max_attempts", "timeout", "unique_key",
    "last_error", "created_at", "run_at", "started_at", "finished_at", "lease_expires_at",
    "worker_id", "progress", "limit_key", "snoozes", "workflow_id",
)
"""The task hash fields a listing without payloads reads: all a StoredTask holds but it."""


class KeyLayout:
    """The names of the keys under one prefix that Python reads or writes."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def task(self, task_id: str) -> str:
        return self._key("t", task_id)

    def done(self, state: str) -> str:
        return self._key("done", state)

    def counts(self) -> str:
        return self._key("counts")

    def schema(self) -> str:
        return self._key("schema")

    def wake(self, queues: Iterable[str] | None) -> list[str]:
        """The wake-up lists of some queues (None: the list of every queue)."""
        if queues is None:
            return [self._key("wake-all")]
        return [self._key("wake", queue) for queue in dict.fromkeys(queues)]

    def wake_close(self) -> str:
        """A new list that only one listener reads, for its ``close``."""
        return self._key("wake-close", os.urandom(8).hex())


__all__ = ["LISTED_FIELDS", "KeyLayout"]
