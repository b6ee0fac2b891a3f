"""The shape of a maintenance service: one step (``run_once``) run at a jittered interval."""

from __future__ import annotations

import abc
import random
from collections.abc import Callable
from typing import ClassVar

from taskbasket.errors import ConfigurationError


class Service(abc.ABC):
    """One maintenance job of a store, run every ``interval`` seconds by the leader.

    The interval is jittered by up to ``jitter`` of itself either way, so that the
    services of many stores (or a leader that just changed) do not run in lockstep.
    ``run_once`` is the whole job: tests call it directly instead of waiting.
    """

    name: ClassVar[str]

    def __init__(self, interval: float, *, jitter: float = 0.1,
                 random_unit: Callable[[], float] = random.random) -> None:
        if not interval > 0:
            raise ConfigurationError(
                f"the {self.name}'s interval must be > 0 seconds, got {interval!r}")
        if not 0 <= jitter < 1:
            raise ConfigurationError(f"jitter must be within [0, 1), got {jitter!r}")
        self.interval = float(interval)
        self.jitter = jitter
        self._random_unit = random_unit

    def next_interval(self) -> float:
        """Seconds until the next run: the interval, jittered."""
        return self.interval * (1 + self.jitter * (2 * self._random_unit() - 1))

    @abc.abstractmethod
    def run_once(self) -> object:
        """Do the job once, now; what it did."""
