"""What a worker tells about its attempts: its counters (``WorkerStats``), one
``taskbasket.tasks`` log line per state change, and the events its basket's hooks get
(which the Prometheus metrics of :mod:`taskbasket.metrics` count)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

from taskbasket.backends.base import Outcome, OutcomeKind
from taskbasket.events import Event, EventKind, Hooks
from taskbasket.worker.job import Job

log = logging.getLogger("taskbasket.worker")
task_log = logging.getLogger("taskbasket.tasks")
"""One line per task state change, with structured fields in ``extra``."""

STAT_KEYS = ("claimed", "succeeded", "retried", "failed", "released", "timed_out",
             "lost_leases", "discarded", "unstored", "cancelled")
"""The counters of ``Worker.stats``."""

_STAT_OF = {
    OutcomeKind.SUCCEEDED: "succeeded", OutcomeKind.RETRY: "retried",
    OutcomeKind.FAILED: "failed", OutcomeKind.RELEASED: "released",
}
_EVENT_OF = {
    OutcomeKind.SUCCEEDED: EventKind.SUCCEEDED,
    OutcomeKind.RETRY: EventKind.RETRYING,
    OutcomeKind.FAILED: EventKind.FAILED,
}


class WorkerStats(Mapping[str, int]):
    """A worker's counters (``STAT_KEYS``), incremented by its threads under one lock.

    It reads like the dict it replaces (``stats["succeeded"]``, ``dict(stats)``); each
    read is of one counter, and ``snapshot()`` copies them all at one instant.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(STAT_KEYS, 0)

    def increment(self, key: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``key`` (one of ``STAT_KEYS``, else KeyError)."""
        with self._lock:
            if key not in self._counts:
                raise KeyError(f"{key!r} is not a worker counter; they are {STAT_KEYS}")
            self._counts[key] += n

    def snapshot(self) -> dict[str, int]:
        """Every counter, read at one instant."""
        with self._lock:
            return dict(self._counts)

    def __getitem__(self, key: str) -> int:
        with self._lock:
            return self._counts[key]

    def __iter__(self) -> Iterator[str]:
        return iter(STAT_KEYS)

    def __len__(self) -> int:
        return len(STAT_KEYS)

    def __repr__(self) -> str:
        return repr(self.snapshot())


def log_fields(job: Job, duration: float | None = None) -> dict[str, object]:
    """Structured log fields of a task, for JSON formatters and log shippers."""
    claimed = job.claimed
    return {"task_id": claimed.id, "task_name": claimed.name, "queue": claimed.queue,
            "attempt": claimed.attempts, "duration": duration}


class Telemetry:
    """Counts, logs and emits the events of one worker's attempts."""

    def __init__(self, hooks: Hooks, stats: WorkerStats) -> None:
        self.hooks = hooks
        self.stats = stats

    def started(self, job: Job) -> None:
        """An attempt starts: its log line and its ``started`` event (with the pickup
        latency: from when it was due to now)."""
        claimed = job.claimed
        hooks = self.hooks
        logging_tasks = task_log.isEnabledFor(logging.INFO)
        if not (logging_tasks or hooks.wants(EventKind.STARTED)):
            return
        pickup = max(0.0, (datetime.now(UTC) - claimed.run_at).total_seconds())
        if logging_tasks:
            task_log.info("task %s (%s) started, attempt %d of %d", claimed.id, claimed.name,
                          claimed.attempts, claimed.max_attempts, extra=log_fields(job))
        if hooks.wants(EventKind.STARTED):
            hooks.emit(Event(EventKind.STARTED, claimed.id, claimed.name, claimed.queue,
                             claimed.attempts, claimed.max_attempts, pickup_latency=pickup))

    def cancelled(self, job: Job, reason: str) -> None:
        """The task of a held attempt was cancelled: counted and logged (its ``cancelled``
        event fired where ``cancel`` was called)."""
        claimed = job.claimed
        self.stats.increment("cancelled")
        task_log.info("task %s (%s) cancelled on attempt %d: %s", claimed.id, claimed.name,
                      claimed.attempts, reason, extra=log_fields(job))

    def recorded(self, job: Job, outcome: Outcome, accepted: bool | None) -> None:
        """Count, log and emit an outcome the store answered for: ``accepted`` True (it
        is recorded), False (the lease was lost: discarded) or None (unstorable: dropped)."""
        claimed = job.claimed
        if accepted is None:
            self.stats.increment("unstored")
            return
        if not accepted:
            self.stats.increment("lost_leases")
            log.warning(
                "task %s (%s) attempt %d: outcome %s discarded, the lease was lost "
                "(it expired or the task was cancelled)",
                claimed.id, claimed.name, claimed.attempts, outcome.kind.value,
            )
            return
        self.stats.increment(_STAT_OF[outcome.kind])
        kind = _EVENT_OF.get(outcome.kind)
        if kind is None:
            return
        duration = (job.ended or time.monotonic()) - job.started if job.started else None
        self._log_outcome(job, outcome, duration)
        if self.hooks.wants(kind):
            next_run = None
            if outcome.kind is OutcomeKind.RETRY:
                next_run = outcome.retry_at or datetime.now(UTC) + timedelta(
                    seconds=outcome.retry_delay)
            self.hooks.emit(Event(
                kind, claimed.id, claimed.name, claimed.queue, claimed.attempts,
                claimed.max_attempts, error=outcome.error, next_run_at=next_run,
                retry_delay=outcome.retry_delay if next_run else None, duration=duration,
            ))

    @staticmethod
    def _log_outcome(job: Job, outcome: Outcome, duration: float | None) -> None:
        claimed = job.claimed
        fields = log_fields(job, duration)
        if outcome.kind is OutcomeKind.FAILED:
            summary = " ".join((outcome.error or "").strip().splitlines()[-2:])
            task_log.error("task %s (%s) failed on attempt %d of %d: %s", claimed.id,
                           claimed.name, claimed.attempts, claimed.max_attempts, summary,
                           extra=fields)
        elif outcome.kind is OutcomeKind.RETRY:
            last_line = ((outcome.error or "").strip().splitlines() or [""])[-1]
            task_log.warning("task %s (%s) attempt %d failed, retrying in %.1fs: %s",
                             claimed.id, claimed.name, claimed.attempts, outcome.retry_delay,
                             last_line, extra=fields)
        elif task_log.isEnabledFor(logging.INFO):
            task_log.info("task %s (%s) succeeded in %.3fs", claimed.id, claimed.name,
                          duration or 0.0, extra=fields)
