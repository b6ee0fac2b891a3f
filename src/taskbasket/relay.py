"""The outbox relay: tasks committed to a store, moved onto a message bus at least once.

An application enqueues inside its own database transaction (``connection=``) into a
store, its outbox; the relay claims the tasks that are due there, publishes each to the
bus under its own id (the message id), waits for the broker to confirm, and only then
marks it ``succeeded`` in the store. So a commit and a publish can never disagree: a
rolled-back task is never published, and a committed one always is.

Nothing is lost if the relay dies at any point: its claims are leases that cost no
attempt, so a claim whose relay died is requeued when its lease expires and published
again. Such a second publish carries the same message id; NATS JetStream drops it within
its duplicate window (2 minutes), and every taskbasket bus worker drops a message whose
task already succeeded on it. A duplicate that reaches another worker runs again, as any
at-least-once delivery may: handlers should be idempotent (``current_task().id`` is the
message id).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from taskbasket.backends import open_backend
from taskbasket.backends.base import (
    Backend,
    ClaimedTask,
    ClaimParams,
    NewTask,
    Outcome,
    OutcomeKind,
    redact_url,
)
from taskbasket.errors import ConfigurationError, UnsupportedOperationError
from taskbasket.maintenance import (
    DEFAULT_RETENTION,
    Maintenance,
    MaintenanceReport,
    RetentionArg,
    parse_retention,
)
from taskbasket.retry import ExponentialBackoff
from taskbasket.runtime import Outage, install_stop_signals
from taskbasket.storable import storable_text
from taskbasket.validation import MAX_LEASE, MAX_WORKER_INTERVAL, check_seconds

__all__ = ["Relay", "RelayResult"]

log = logging.getLogger("taskbasket.relay")

BUS_BACKOFF = ExponentialBackoff(base=0.5, cap=30.0)
"""How long the relay waits between attempts while the bus (or the store) fails."""


@dataclass(frozen=True, slots=True)
class RelayResult:
    """What one :meth:`Relay.relay_once` did.

    ``published``: confirmed by the bus and marked succeeded in the store. ``failed``:
    refused by the bus for good (a queue name it cannot route), marked failed with the
    reason. ``deferred``: not published because the bus failed; they wait in the store
    as ``retrying`` and are published once it is back.
    """

    published: int = 0
    failed: int = 0
    deferred: int = 0

    @property
    def claimed(self) -> int:
        return self.published + self.failed + self.deferred


class Relay:
    """Moves due tasks from ``source`` (a store) to ``target`` (a message bus).

    ``queues`` limits the relay to those queues of the store: give the outbox its own
    queues if workers also serve the store, since a relay takes every task it may. Each
    step (:meth:`relay_once`, :meth:`maintain_once`) can be called on its own; :meth:`run`
    loops over them until :meth:`stop` or SIGTERM/SIGINT.

    While :meth:`run` runs and the relay leads the store, it runs the store's maintenance
    like a worker does (see :mod:`taskbasket.maintenance`): a dead relay's claims are
    requeued, and published tasks (succeeded in the outbox) are pruned after
    ``retention`` (None keeps them).
    """

    def __init__(
        self,
        source: str | Backend,
        target: str | Backend,
        *,
        queues: Sequence[str] | None = None,
        batch_size: int = 500,
        lease_seconds: float = 30.0,
        poll_interval: float = 1.0,
        relay_id: str | None = None,
        retention: RetentionArg = DEFAULT_RETENTION,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size!r}")
        lease_seconds = check_seconds("lease_seconds", lease_seconds, allow_zero=False,
                                      maximum=MAX_LEASE)
        poll_interval = check_seconds("poll_interval", poll_interval, allow_zero=False,
                                      maximum=MAX_WORKER_INTERVAL)
        if isinstance(source, str) and isinstance(target, str) and source == target:
            raise ConfigurationError(
                f"the relay's source and target are the same URL ({redact_url(source)}); "
                "--from names the store your application enqueues into, --to the bus")
        self.source = open_backend(source) if isinstance(source, str) else source
        self.target = open_backend(target) if isinstance(target, str) else target
        if self.source.capabilities.is_bus:
            raise ConfigurationError(
                f"the relay reads a store, but {redact_url(self.source.url)} is a message "
                "bus; --from takes the store your application enqueues into "
                "(sqlite://, postgresql://, mysql://, redis://)")
        if not self.target.capabilities.is_bus:
            raise ConfigurationError(
                f"the relay publishes to a message bus, but {redact_url(self.target.url)} "
                "is a store; --to takes a bus URL (amqp://, nats://)")
        self.queues = list(queues) if queues else None
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.relay_id = relay_id or (
            f"relay:{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}")
        self.maintenance = Maintenance.of_store(
            self.source, holder=self.relay_id, interval=lease_seconds / 3,
            leader_ttl=min(lease_seconds, 30.0), retention=parse_retention(retention),
        )
        self.totals = {"published": 0, "failed": 0, "deferred": 0}
        self._failures = 0  # consecutive batches the bus refused
        self._stopping = threading.Event()
        self._outage = Outage(log, self._stopping, BUS_BACKOFF.delay)  # of the store

    # ------------------------------------------------------------------ steps

    def relay_once(self) -> RelayResult:
        """Claim up to ``batch_size`` due tasks, publish them, record each outcome."""
        claimed = self.source.tasks_claim(ClaimParams(
            worker_id=self.relay_id, names=None, limit=self.batch_size,
            lease_seconds=self.lease_seconds, queues=self.queues, count_attempt=False,
        ))
        if not claimed:
            return RelayResult()
        outcomes = self._publish(claimed)
        recorded = self.source.tasks_finish(outcomes)
        lost = sum(1 for held in recorded if not held)
        if lost:
            log.warning(
                "%d task(s) were published but their relay lease had expired (a pause "
                "longer than %gs): another relay publishes them again, and consumers drop "
                "the duplicates", lost, self.lease_seconds)
        kinds = [o.kind for o in outcomes]
        result = RelayResult(
            published=kinds.count(OutcomeKind.SUCCEEDED),
            failed=kinds.count(OutcomeKind.FAILED), deferred=kinds.count(OutcomeKind.RETRY),
        )
        for key in self.totals:
            self.totals[key] += getattr(result, key)
        log.debug("relayed %d, failed %d, deferred %d", result.published, result.failed,
                  result.deferred)
        return result

    def maintain_once(self, *, prune: bool = True) -> MaintenanceReport:
        """Run the store's maintenance once, now: requeue the tasks of relays (or
        workers) whose lease expired, promote due tasks, prune old ones."""
        report = self.maintenance.run_once(prune=prune)
        if report.requeued:
            log.info("requeued %d task(s) whose holder's lease expired", len(report.requeued))
        return report

    def _publish(self, claimed: Sequence[ClaimedTask]) -> list[Outcome]:
        """Publish ``claimed`` (as a batch, else one by one) and say how each ended."""
        try:
            self.target.tasks_insert([_new_task(t) for t in claimed])
        except (ConfigurationError, UnsupportedOperationError) as exc:
            if len(claimed) > 1:  # find the task the bus refuses; publish the rest
                return [o for t in claimed for o in self._publish([t])]
            [task] = claimed
            error = storable_text(
                f"the relay cannot publish this task to {redact_url(self.target.url)}: {exc}")
            log.error("task %s (%s): %s", task.id, task.name, error)
            return [Outcome(task.lease, OutcomeKind.FAILED, error=error)]
        except Exception as exc:  # the bus is down or refused the batch: try again later
            self._failures += 1
            delay = self.backoff()
            error = storable_text(f"the relay could not publish to {redact_url(self.target.url)} "
                                  f"({exc!r}); it tries again in {delay:.1f}s")
            log.warning("%s (%d task(s) wait in the store)", error, len(claimed))
            return [Outcome(t.lease, OutcomeKind.RETRY, error=error, retry_delay=delay)
                    for t in claimed]
        self._failures = 0
        return [Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in claimed]

    def backoff(self) -> float:
        """Seconds to wait after the bus (or store) failed ``_failures`` times in a row."""
        return BUS_BACKOFF.delay(self._failures) if self._failures else 0.0

    # ------------------------------------------------------------------ loop

    def run(self, *, install_signal_handlers: bool = True) -> None:
        """Relay until :meth:`stop` (or SIGTERM/SIGINT); the batch in hand is finished.
        A second signal exits at once: the relay's leases expire and another relay (or
        this one, restarted) publishes their tasks."""
        if install_signal_handlers:
            install_stop_signals(
                self._stopping, log,
                "signal %d: stopping after the batch in hand (send it again to exit at once)")
        listener = self.source.listener(self.queues)
        log.info("relaying %s from %s to %s", ", ".join(self.queues or ["every queue"]),
                 redact_url(self.source.url), redact_url(self.target.url))
        self.maintenance.start()
        failures = 0  # consecutive relay steps the store failed
        try:
            while not self._stopping.is_set():
                try:
                    result = self.relay_once()
                    failures = self._outage.recovered(failures, "relaying")
                except Exception as exc:  # the store is unreachable: wait and try again
                    failures = self._outage.failed(failures, "relaying", exc)
                    continue
                if result.deferred:
                    self._stopping.wait(self.backoff())
                elif result.claimed == 0:
                    listener.wait(self.poll_interval)
        finally:
            self.maintenance.stop()
            listener.close()
            log.info("relay stopped: %(published)d published, %(failed)d failed, "
                     "%(deferred)d deferred", self.totals)

    def run_until_empty(self, timeout: float = 30.0) -> int:
        """Relay until nothing is due in the store; the number published. For scripts
        and tests. Raises TimeoutError if tasks are still due after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        published = 0
        while time.monotonic() < deadline:
            self.maintain_once(prune=False)
            result = self.relay_once()
            published += result.published
            if result.claimed == 0:
                return published
            if result.deferred:
                time.sleep(min(self.backoff(), max(0.0, deadline - time.monotonic())))
        raise TimeoutError(f"tasks were still due in the store after {timeout}s")

    def stop(self) -> None:
        """Ask :meth:`run` to return after the batch in hand; safe from any thread."""
        self._stopping.set()

    def close(self) -> None:
        self.source.close()
        self.target.close()


def _new_task(task: ClaimedTask) -> NewTask:
    """The bus message of a claimed task: same id, due now (the store kept its delay).

    The unique key is dropped: the store kept it unique while it held the task, and a
    bus cannot check it."""
    return NewTask(
        id=task.id, name=task.name, queue=task.queue, payload=task.payload,
        priority=task.priority, max_attempts=task.max_attempts, timeout=task.timeout,
    )
