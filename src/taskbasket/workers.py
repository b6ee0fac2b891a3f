"""The worker registry as people read it: :class:`WorkerInfo`, and the rules that make a
row *gone* and then removed.

Every running worker keeps one row in its store (``Capabilities.worker_registry``),
written by its heartbeat every ``heartbeat_interval`` seconds (a third of its
``visibility_timeout``: 10 s by default) and deleted when it stops gracefully. The numbers:

- a worker unseen for ``GONE_AFTER_BEATS`` (3) of its heartbeat intervals is **gone**
  (30 s by default: about when the leases it held expire);
- a row unseen for ``REMOVE_AFTER`` (one hour), or for ``REMOVE_AFTER_BEATS`` (10) of the
  pruning worker's intervals if that is longer, is deleted by the next live worker's
  heartbeat that prunes (every ``PRUNE_EVERY_BEATS`` beats).

The registry is for people and :meth:`Basket.explain`; it never affects task safety: a dead
worker's tasks come back when their leases expire, whatever its row says.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from taskbasket.backends.base import Backend, StoredWorker, WorkersListParams

GONE_AFTER_BEATS = 3
"""A worker unseen for this many of its heartbeat intervals is shown as gone."""
REMOVE_AFTER = timedelta(hours=1)
"""A row unseen this long is deleted (see the module's docstring)."""
REMOVE_AFTER_BEATS = 10
PRUNE_EVERY_BEATS = 10
"""A worker prunes the rows of long-gone workers at start and every this many beats."""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One worker of the store, as its latest heartbeat described it.

    ``queues`` None means every queue; ``tasks`` are the task names it has handlers for;
    ``busy`` is how many of its ``concurrency`` slots held a task at that beat; times are
    the store's clock. ``gone`` is True once it has been unseen for ``GONE_AFTER_BEATS``
    heartbeat intervals (killed, frozen or cut off from the store).
    """

    id: str
    host: str
    pid: int
    queues: list[str] | None
    concurrency: int
    busy: int
    started_at: datetime
    last_seen_at: datetime
    tasks: list[str] = field(default_factory=list)
    heartbeat_interval: float = 10.0
    gone: bool = False

    @property
    def state(self) -> str:
        """``"live"`` or ``"gone"``."""
        return "gone" if self.gone else "live"

    def serves(self, name: str, queue: str) -> bool:
        """True if this worker claims tasks named ``name`` from ``queue``."""
        return name in self.tasks and (self.queues is None or queue in self.queues)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict (times as ISO 8601), for ``--json`` and the dashboard."""
        return {
            "id": self.id, "host": self.host, "pid": self.pid, "queues": self.queues,
            "tasks": self.tasks, "concurrency": self.concurrency, "busy": self.busy,
            "started_at": self.started_at.isoformat(),
            "last_seen_at": self.last_seen_at.isoformat(),
            "heartbeat_interval": self.heartbeat_interval, "state": self.state,
        }


def encode_info(*, host: str, pid: int, queues: Sequence[str] | None, tasks: Sequence[str],
                concurrency: int, busy: int, heartbeat_interval: float) -> str:
    """The ``info`` text a worker's heartbeat stores (what ``decode`` reads back)."""
    return json.dumps({
        "host": host, "pid": pid, "queues": None if queues is None else list(queues),
        "tasks": sorted(tasks), "concurrency": concurrency, "busy": busy,
        "heartbeat_interval": heartbeat_interval,
    }, separators=(",", ":"))


def decode(row: StoredWorker, now: datetime) -> WorkerInfo:
    """The WorkerInfo of a stored row, gone or not at ``now``; a row whose info cannot be
    read shows as a worker with no tasks, not as an error (the registry is advisory)."""
    try:
        info = json.loads(row.info)
        if not isinstance(info, dict):
            raise ValueError("not an object")
    except ValueError:
        info = {}
    interval = float(info.get("heartbeat_interval") or 10.0)
    queues = info.get("queues")
    return WorkerInfo(
        id=row.id, host=str(info.get("host", "")), pid=int(info.get("pid") or 0),
        queues=None if queues is None else [str(q) for q in queues],
        concurrency=int(info.get("concurrency") or 0), busy=int(info.get("busy") or 0),
        started_at=row.started_at, last_seen_at=row.last_seen_at,
        tasks=[str(name) for name in info.get("tasks") or ()], heartbeat_interval=interval,
        gone=now - row.last_seen_at > timedelta(seconds=GONE_AFTER_BEATS * interval),
    )


def list_workers(backend: Backend, now: datetime | None = None) -> list[WorkerInfo]:
    """Every worker row of ``backend``, judged at ``now`` (the store's clock unless given:
    tests move it forward), ordered by id. UnsupportedOperationError on a transport."""
    rows = backend.workers_list(WorkersListParams())
    moment = backend.now() if now is None else now
    return [decode(row, moment) for row in rows]


def removal_cutoff(now: datetime, heartbeat_interval: float) -> datetime:
    """Rows last seen before this are deleted by a worker with this heartbeat interval."""
    return now - max(REMOVE_AFTER, timedelta(seconds=REMOVE_AFTER_BEATS * heartbeat_interval))
