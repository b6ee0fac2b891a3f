"""The housekeeper: a worker's heartbeats, which extend the leases of the tasks it holds
every third of the visibility timeout, notice the leases it lost, and write the worker's
row in the worker registry."""

from __future__ import annotations

import logging
import threading
import time

from taskbasket.backends.base import Backend, LeaseExtendParams
from taskbasket.runtime import Outage
from taskbasket.worker.dispatcher import Dispatcher
from taskbasket.worker.inflight import InFlight
from taskbasket.worker.job import JobPhase
from taskbasket.worker.registration import Registration

log = logging.getLogger("taskbasket.worker")


class Housekeeper:
    """Renews the leases of the jobs in ``inflight`` for ``lease_seconds`` every
    ``interval`` seconds. A job whose lease was lost (it expired, or the task was
    cancelled) is marked so: its outcome will be discarded, and an async one is
    cancelled."""

    def __init__(
        self, backend: Backend, inflight: InFlight, dispatcher: Dispatcher, *,
        lease_seconds: float, interval: float, outage: Outage, closing: threading.Event,
        registration: Registration,
    ) -> None:
        self.backend = backend
        self.lease_seconds = lease_seconds
        self.interval = interval
        self._inflight = inflight
        self._dispatcher = dispatcher
        self._outage = outage
        self._closing = closing
        self.registration = registration

    def heartbeat_once(self) -> int | None:
        """Extend the leases of every task held; how many were lost (None: none held)."""
        jobs = self._inflight.leased()
        if not jobs:
            return None
        held = self.backend.leases_extend(
            LeaseExtendParams([j.lease for j in jobs], self.lease_seconds)
        )
        lost = [j for j in jobs if j.claimed.id not in held]
        for job in lost:
            if job.phase is JobPhase.DONE:
                continue  # recorded meanwhile: not lost, just finished
            job.lease_lost = True
            log.warning("task %s (%s): lease lost (expired or cancelled); its result will "
                        "be discarded", job.claimed.id, job.claimed.name)
            if job.definition.is_async:
                self._dispatcher.cancel(job)
        return len(lost)

    def run(self) -> None:
        """Heartbeat every ``interval`` until the worker closes; a failed heartbeat is
        retried with backoff, and at least every second, until the store answers."""
        next_heartbeat = time.monotonic() + self.interval
        failures = 0
        while not self._closing.is_set():
            now = time.monotonic()
            try:
                if now >= next_heartbeat:
                    next_heartbeat = now + self.interval
                    # only a call that reached the store proves it is back
                    if self.heartbeat_once() is not None:
                        failures = self._outage.recovered(failures, "heartbeat")
                    # after the leases, never before them; it never raises (advisory)
                    self.registration.beat()
            except Exception as exc:
                failures = self._outage.failed(failures, "heartbeat", exc)
                next_heartbeat = min(next_heartbeat, time.monotonic() + 1.0)
                continue
            self._closing.wait(max(0.01, next_heartbeat - time.monotonic()))
