"""The worker registry's records and parameters of the Backend seam.

Each running worker keeps one row, written by its heartbeat (``workers_beat``) and
removed when it stops gracefully (``workers_remove``). A store does not interpret the row:
``info`` is JSON text that the core (``taskbasket.workers``) writes and reads (host, pid,
queues, task names, concurrency, busy slots, heartbeat interval). The store decides one
thing: the times, ``started_at`` (its clock at the row's first beat, kept after) and
``last_seen_at`` (its clock at the latest beat), so every host is judged by one clock.
The registry is for people and ``explain``; leases, not rows here, keep tasks safe.
``taskbasket.backends.base`` re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StoredWorker:
    """A worker's row as stored."""

    id: str
    info: str
    """What the worker is (the core's JSON)."""
    started_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class WorkersBeatParams:
    """Insert worker ``id``'s row, or update it: ``info`` replaces the stored one and
    ``last_seen_at`` becomes the store's now; ``started_at`` is the store's now on insert
    and stays on update."""

    id: str
    info: str


@dataclass(frozen=True, slots=True)
class WorkersListParams:
    """Every worker row, ordered by id."""


@dataclass(frozen=True, slots=True)
class WorkersRemoveParams:
    """Delete the rows of ``ids``, and every row last seen before ``unseen_before`` (if
    given); how many were deleted."""

    ids: Sequence[str] = ()
    unseen_before: datetime | None = None
