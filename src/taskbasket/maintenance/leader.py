"""Leader election: one process of all those sharing a store runs its maintenance."""

from __future__ import annotations

import logging

from taskbasket.backends.base import Backend, LeaderLock, LeaderParams, redact_url
from taskbasket.errors import ConfigurationError

log = logging.getLogger("taskbasket.maintenance")

LEADER_NAME = "maintenance"


class Elector:
    """Holds (or waits for) this process's term as the leader of ``name`` in a store.

    A term lasts ``ttl`` seconds and is renewed every third of it, so a leader that was
    SIGKILLed is replaced within about ``ttl * 4 / 3``: less than two ttls. A store
    without a leader lock (``capabilities.leader_lock`` False) makes every process a
    leader, as before elections existed.
    """

    def __init__(self, backend: Backend, holder: str, ttl: float,
                 name: str = LEADER_NAME) -> None:
        if not ttl > 0:
            raise ConfigurationError(f"the leader's ttl must be > 0 seconds, got {ttl!r}")
        self.backend = backend
        self.lock: LeaderLock | None = (
            backend if backend.capabilities.leader_lock and isinstance(backend, LeaderLock)
            else None)
        self.params = LeaderParams(name, holder, float(ttl))
        self.leading = False
        self.elections = 0
        """How many elections this process has held (tests wait on it)."""

    @property
    def renew_interval(self) -> float:
        return self.params.ttl / 3

    def elect(self) -> bool:
        """Start or renew this process's term; whether it leads now. A store error is
        raised, and the process leads no more until an election succeeds."""
        was = self.leading
        self.leading = False
        self.elections += 1
        leading = True if self.lock is None else self.lock.leader_try(self.params)
        self.leading = leading
        if leading != was and self.lock is not None:
            where = redact_url(self.backend.url)
            if leading:
                log.info("%s leads the maintenance of %s", self.params.holder, where)
            else:
                log.info("%s no longer leads the maintenance of %s", self.params.holder, where)
        return leading

    def resign(self) -> None:
        """End this process's term now (best effort), so another takes over at once."""
        if self.lock is not None and self.leading:
            self.leading = False
            try:
                self.lock.leader_resign(self.params)
            except Exception as exc:  # the term then simply runs out
                log.info("could not resign the maintenance leadership (%r); it ends "
                         "when its ttl runs out", exc)
