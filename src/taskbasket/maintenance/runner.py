"""The maintenance of one store: its services, run on a thread while this process leads."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from taskbasket.backends.base import Backend, ExpiredLease
from taskbasket.events import Hooks
from taskbasket.maintenance.leader import Elector
from taskbasket.maintenance.pruner import Pruner
from taskbasket.maintenance.rescuer import Backoff, Rescuer, no_backoff
from taskbasket.maintenance.service import Service
from taskbasket.maintenance.stager import Stager
from taskbasket.task import State

log = logging.getLogger("taskbasket.maintenance")

OUTAGE_WAIT = 1.0
"""Seconds between tries while the store fails an election."""


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one :meth:`Maintenance.run_once` did."""

    requeued: list[ExpiredLease] = field(default_factory=list)
    failed: list[ExpiredLease] = field(default_factory=list)
    promoted: int = 0
    pruned: int = 0


class Maintenance:
    """Runs ``services`` for one store on a thread of its own (``start``/``stop``), each
    at its own jittered interval, only while this process is the elected leader.

    ``tick`` is one step of that thread (elect when due, run the services that are due)
    and ``run_once`` runs every service now, leader or not: both are for tests and
    helpers that step maintenance instead of waiting for it. ``clock`` (monotonic
    seconds) is injectable for the same reason.
    """

    def __init__(self, backend: Backend, services: Sequence[Service], *, holder: str,
                 leader_ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.backend = backend
        self.services = list(services)
        self.elector = Elector(backend, holder, leader_ttl)
        self._clock = clock
        self._due = {service.name: 0.0 for service in self.services}
        self._next_election = 0.0
        self._failing: dict[str, str] = {}  # what failed -> its last error, logged once
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def of_store(
        cls, backend: Backend, *, holder: str, leader_ttl: float, interval: float,
        retention: Mapping[State, float], hooks: Hooks | None = None,
        backoff: Backoff = no_backoff,
    ) -> Maintenance:
        """The standard services of a store (rescuer and stager every ``interval``
        seconds, the pruner every minute); none for a bus, which needs none."""
        services: list[Service] = []
        if not backend.capabilities.is_bus:
            services = [
                Rescuer(backend, hooks=hooks, backoff=backoff, interval=interval),
                Stager(backend, interval=interval),
                Pruner(backend, retention),
            ]
        return cls(backend, services, holder=holder, leader_ttl=leader_ttl)

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)

    @property
    def leading(self) -> bool:
        return self.elector.leading

    # ------------------------------------------------------------------ steps

    def run_once(self, *, prune: bool = True) -> MaintenanceReport:
        """Run every service once, now, whether or not this process leads."""
        requeued: list[ExpiredLease] = []
        failed: list[ExpiredLease] = []
        promoted = pruned = 0
        for service in self.services:
            if isinstance(service, Rescuer):
                report = service.run_once()
                requeued, failed = report.requeued, report.failed
            elif isinstance(service, Stager):
                promoted = service.run_once()
            elif isinstance(service, Pruner):
                pruned = service.run_once() if prune else 0
            else:
                service.run_once()
        return MaintenanceReport(requeued, failed, promoted, pruned)

    def tick(self) -> float:
        """Elect if due, then run the services that are due if this process leads;
        seconds until the next step is due. A failing election is raised."""
        now = self._clock()
        if now >= self._next_election:
            self._next_election = now + self.elector.renew_interval
            self.elector.elect()
        if not self.elector.leading:
            return max(0.0, self._next_election - now)
        for service in self.services:
            if self._clock() >= self._due[service.name]:
                try:
                    service.run_once()
                    self._recovered(service.name)
                except Exception as exc:  # a store outage: next interval, logged once
                    self._failed(service.name, exc)
                self._due[service.name] = self._clock() + service.next_interval()
        next_step = min([self._next_election, *self._due.values()])
        return max(0.0, next_step - self._clock())

    # ------------------------------------------------------------------ thread

    def start(self) -> None:
        """Run the services on a daemon thread until ``stop``; nothing for a bus."""
        if not self.services or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="taskbasket-maintenance",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and resign the leadership, so another process takes over."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        self.elector.resign()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                wait = self.tick()
                self._recovered("election")
            except Exception as exc:
                self._failed("election", exc)
                self._next_election = self._clock() + OUTAGE_WAIT
                wait = OUTAGE_WAIT
            self._stopping.wait(max(0.01, wait))

    def _failed(self, what: str, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {exc}"
        if self._failing.get(what) != message:
            log.warning("maintenance (%s) failed, trying again: %s", what, message)
        self._failing[what] = message

    def _recovered(self, what: str) -> None:
        if self._failing.pop(what, None) is not None:
            log.warning("maintenance (%s) works again", what)
