"""How an idle MySQL worker learns of new tasks: MySQL has no notifications, so it polls
the newest task id, and is woken at once by producers in its own process."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("taskbasket.backends.mysql")


class PollingListener:
    """Polling, woken early: at once when this process stored or released tasks, and
    within ``interval`` seconds when another process stored tasks.

    An idle listener reads the newest task id every ``interval`` (``SELECT MAX(id)`` on
    the primary key: one index dive) and wakes its worker when it changed. Tasks that
    come due or are requeued by a rescue are found by the worker's regular polling.
    """

    def __init__(self, newest: Callable[[], bytes | None] | None, interval: float) -> None:
        self._event = threading.Event()
        self._closed = False
        self._newest = newest
        self._interval = interval
        self._seen: bytes | None = None
        self._seen = self._probe()  # before the worker's first claim: nothing slips by

    def _probe(self) -> bytes | None:
        if self._newest is None:
            return None
        try:
            return self._newest()
        except Exception as exc:  # the worker's claims report outages; keep polling
            log.debug("wake-up probe failed: %s", exc)
            return self._seen

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            step = min(left, self._interval) if self._newest is not None else left
            if self._event.wait(step):
                self._event.clear()
                return not self._closed
            newest = self._probe()
            if newest != self._seen:
                self._seen = newest
                return True
        return False

    def notify(self) -> None:
        self._event.set()

    def close(self) -> None:
        self._closed = True
        self._event.set()


__all__ = ["PollingListener"]
