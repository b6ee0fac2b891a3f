"""Sampling the store's task counts into a bounded ring, for the overview's charts.

A thread reads ``basket.stats()`` (one grouped count in the store) every ``interval``
seconds. The dashboard starts it from its lifespan and, for an app mounted in another
app (whose lifespan never reaches the mounted one), on its first request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from taskbasket.backends.base import redact_url
from taskbasket.basket import Basket
from taskbasket.errors import ConfigurationError
from taskbasket.task import State

log = logging.getLogger("taskbasket.dashboard")


@dataclass(frozen=True)
class Sample:
    """Task counts per (queue, state) at one moment (``at``: Unix time)."""

    at: float
    stats: Mapping[tuple[str, State], int]

    @property
    def totals(self) -> dict[State, int]:
        totals = dict.fromkeys(State, 0)
        for (_, state), count in self.stats.items():
            totals[state] += count
        return totals


class Sampler:
    """A bounded ring of ``Sample``s, filled every ``interval`` seconds by a thread.

    ``current(max_age)`` returns the newest reading if it is at most ``max_age`` old and
    reads the store otherwise (such on-demand readings are not added to the ring, so the
    ring stays evenly spaced). ``start`` and ``stop`` are safe to call from any thread,
    any number of times.
    """

    def __init__(
        self, basket: Basket, interval: float = 5.0, size: int = 720,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval <= 0 or size < 2:
            raise ConfigurationError("sample_interval must be > 0 and history >= 2")
        self.basket = basket
        self.interval = interval
        self.size = size
        self._clock = clock
        self._lock = threading.Lock()
        self._ring: deque[Sample] = deque(maxlen=size)
        self._newest: Sample | None = None
        self._stop = threading.Event()  # one per thread: a stopped thread never resumes
        self._thread: threading.Thread | None = None

    def _read(self) -> Sample:
        return Sample(self._clock(), dict(self.basket.stats()))

    def sample_once(self) -> Sample:
        sample = self._read()
        with self._lock:
            self._ring.append(sample)
            self._newest = sample
        return sample

    def current(self, max_age: float) -> Sample:
        with self._lock:
            newest = self._newest
        if newest is not None and self._clock() - newest.at <= max_age:
            return newest
        sample = self._read()
        with self._lock:
            if self._newest is None or self._newest.at < sample.at:
                self._newest = sample
        return sample

    def invalidate(self) -> None:
        """Forget the newest reading, so that the next ``current`` reads the store."""
        with self._lock:
            self._newest = None

    def history(self) -> list[Sample]:
        with self._lock:
            return list(self._ring)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start the sampling thread unless it runs already."""
        if self._thread is not None:  # the cheap check of every request
            return
        with self._lock:
            if self._thread is not None:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._loop, args=(self._stop,), name="taskbasket-dashboard-sampler",
                daemon=True,
            )
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None:
            thread.join(timeout=30)

    def _loop(self, stop: threading.Event) -> None:
        while True:
            try:
                self.sample_once()
            except Exception as exc:
                url = self.basket.url
                message = str(exc).replace(url, redact_url(url))
                log.warning("dashboard sampler cannot read %s: %s", redact_url(url), message)
            if stop.wait(self.interval):
                return
