"""The completer: records finished attempts in the store, in batches, on a thread of its own.

An outcome is recorded only while its lease is held (the store fences it), so a worker
that lost a lease can never overwrite the attempt that replaced it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence

from taskbasket.backends.base import Backend, Outcome, OutcomeKind
from taskbasket.errors import UnsupportedOperationError
from taskbasket.runtime import Outage
from taskbasket.worker.durable import after_recorded
from taskbasket.worker.inflight import InFlight
from taskbasket.worker.job import Job, error_outcome, placeholder_outcome, with_history
from taskbasket.worker.telemetry import Telemetry

log = logging.getLogger("taskbasket.worker")

COMPLETION_BATCH = 500
"""The most outcomes recorded in one call to the store."""

Recorded = tuple[Job, Outcome, bool | None]
"""A job, the outcome recorded for it, and whether its lease was current (None: it could
not be stored at all and was dropped)."""


def store_ready(backend: Backend, job: Job, outcome: Outcome) -> Outcome:
    """``outcome`` as ``backend`` can record it: with the task's history where it keeps
    one, and a DEFERRED outcome replaced by an error outcome where it cannot defer."""
    capabilities = backend.capabilities
    if outcome.kind is OutcomeKind.DEFERRED and not capabilities.snooze:
        outcome = error_outcome(job, UnsupportedOperationError(
            f"{type(backend).__name__} cannot snooze a task (a message bus keeps no task "
            "row to count snoozes in, so the attempt could not end uncounted); use a "
            "store (SQLite, PostgreSQL, MySQL, Redis, memory) or raise Retry instead"))
    return with_history(job, outcome) if capabilities.history else outcome


class Completer:
    """Takes the outcomes of finished attempts (``record``) and writes them to the store
    (``complete_once``, looped by ``run`` until the worker closes).

    ``close`` waits for the outcomes handed over to be recorded; once it did and none is
    left, ``run`` returns. ``closing`` (the worker's threads exit) ends it at once, even
    while the store is unreachable: the leases of what was not recorded then expire and
    those tasks run again.
    """

    def __init__(
        self, backend: Backend, inflight: InFlight, telemetry: Telemetry, outage: Outage,
        closing: threading.Event, poll_interval: float,
    ) -> None:
        self.backend = backend
        self.poll_interval = poll_interval
        self._inflight = inflight
        self._telemetry = telemetry
        self._outage = outage
        self._closing = closing
        self._closed = threading.Event()  # set by close: nothing more will be recorded
        self._outcomes: queue.SimpleQueue[tuple[Job, Outcome] | None] = queue.SimpleQueue()

    def record(self, job: Job, outcome: Outcome) -> None:
        """Hand an attempt's outcome over to be recorded; returns at once. It carries
        the task's history with this attempt in it (``with_history``), where the store
        keeps one; on a store that cannot defer a task, a DEFERRED outcome (a snooze)
        becomes the error outcome of an UnsupportedOperationError naming the store."""
        self._inflight.outcome_queued()
        self._outcomes.put((job, store_ready(self.backend, job, outcome)))

    def run(self) -> None:
        """The completer's loop: record batches until closed and empty, or closing."""
        while True:
            self.complete_once()
            if self._closing.is_set() or (
                self._closed.is_set() and self._inflight.pending_outcomes == 0
            ):
                return

    def close(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for every outcome handed over to be recorded,
        then let ``run`` return once none is left. What is left is logged."""
        left = self._inflight.wait_for_outcomes(time.monotonic() + timeout)
        self._closed.set()
        if left:
            log.error("%d outcomes could not be recorded before exit; their leases will "
                      "expire and the tasks will run again", left)
        self._outcomes.put(None)  # wakes a completer waiting for an outcome

    def complete_once(self, block: bool = True) -> int:
        """Record one batch of finished attempts; how many were in it.

        The batch is one call to the store. While the store is unreachable (an error the
        backend calls transient) that call is retried with backoff; any other error means
        the store refused some outcome in it, and the batch is recorded one outcome at a
        time instead (``_finish_one_by_one``), so one unstorable outcome never holds back
        the others.
        """
        batch = self._take_batch(block)
        if not batch:
            return 0
        failures = 0
        recorded: list[Recorded]
        while True:
            try:
                accepted = self.backend.tasks_finish([outcome for _, outcome in batch])
                self._outage.recovered(failures, "recording outcomes")
                recorded = [(job, outcome, ok) for (job, outcome), ok in zip(
                    batch, accepted, strict=True)]
                break
            except Exception as exc:
                if not self.backend.is_transient(exc):
                    self._outage.recovered(failures, "recording outcomes")
                    log.warning("the store refused a batch of %d outcomes (%s: %s); recording "
                                "them one by one", len(batch), type(exc).__name__, exc)
                    recorded = self._finish_one_by_one(batch)
                    break
                failures = self._outage.failed(failures, "recording outcomes", exc)
                if self._closing.is_set():
                    return 0
        for job, outcome, ok in recorded:
            self._telemetry.recorded(job, outcome, ok)
            after_recorded(self.backend, job, outcome, ok)
        self._inflight.outcomes_recorded(job for job, _ in batch)
        return len(batch)

    def _take_batch(self, block: bool) -> list[tuple[Job, Outcome]]:
        """Up to ``COMPLETION_BATCH`` outcomes: the first waited for up to the poll
        interval if ``block``, the rest those already there. The close marker stays."""
        try:
            first = self._outcomes.get(timeout=self.poll_interval) if block else (
                self._outcomes.get_nowait()
            )
        except queue.Empty:
            return []
        if first is None:
            self._outcomes.put(None)
            return []
        batch = [first]
        while len(batch) < COMPLETION_BATCH:
            try:
                item = self._outcomes.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._outcomes.put(None)
                break
            batch.append(item)
        return batch

    def _finish_one_by_one(self, batch: Sequence[tuple[Job, Outcome]]) -> list[Recorded]:
        """Record each outcome alone.

        An outcome the store refuses is recorded with a placeholder error naming the
        reason (``placeholder_outcome``); if even that is refused it is logged and dropped:
        its lease expires and the task runs again, so nothing is lost. Transient errors
        are retried with backoff, as for a batch.
        """
        return [(job, *self._finish_alone(job, outcome)) for job, outcome in batch]

    def _finish_alone(self, job: Job, outcome: Outcome) -> tuple[Outcome, bool | None]:
        """Record one outcome, else its placeholder; what was recorded, and the answer."""
        tried, failures = outcome, 0
        while True:
            try:
                [accepted] = self.backend.tasks_finish([tried])
                self._outage.recovered(failures, "recording an outcome")
                return tried, accepted
            except Exception as exc:
                if self.backend.is_transient(exc):
                    failures = self._outage.failed(failures, "recording an outcome", exc)
                    if self._closing.is_set():
                        return tried, None  # the worker exits: the lease will expire
                    continue
                claimed = job.claimed
                placeholder = placeholder_outcome(tried, exc) if tried is outcome else None
                if placeholder is None:
                    log.error("task %s (%s) attempt %d: the store refused its outcome %s "
                              "(%s: %s); dropped: its lease will expire and the task will "
                              "run again", claimed.id, claimed.name, claimed.attempts,
                              tried.kind.value, type(exc).__name__, exc)
                    return tried, None
                log.error("task %s (%s) attempt %d: the store refused its error text "
                          "(%s: %s); recording a placeholder error instead", claimed.id,
                          claimed.name, claimed.attempts, type(exc).__name__, exc)
                tried = placeholder
