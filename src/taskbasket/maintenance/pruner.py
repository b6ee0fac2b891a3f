"""The pruner: final tasks are deleted once they are older than the store's retention.

A store that keeps every finished task grows without end, so retention is on by default
(as River's job cleaner is): succeeded and cancelled tasks go 24 hours after they
finished, failed ones after 7 days, so an operator has a week to look at a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType

from taskbasket.backends.base import Backend, PruneParams
from taskbasket.errors import ConfigurationError
from taskbasket.maintenance.service import Service
from taskbasket.task import FINAL_STATES, State
from taskbasket.validation import parse_duration

PRUNE_BATCH = 1000
BATCHES_PER_RUN = 10
BACKLOG_INTERVAL = 1.0
"""Seconds to the next run while a run left old tasks behind (it stopped at its bound)."""

DEFAULT_RETENTION: Mapping[State, float] = MappingProxyType({
    State.SUCCEEDED: 24 * 3600.0, State.CANCELLED: 24 * 3600.0, State.FAILED: 7 * 24 * 3600.0,
})

Duration = float | int | str | timedelta
RetentionArg = (Duration | Mapping[State, Duration | None] | Mapping[str, Duration | None]
                | None)
"""What ``retention=`` takes: None keeps every task; one duration applies to every
final state; a mapping changes the default of the states it names (a state mapped to
None is kept for ever)."""


def parse_retention(value: RetentionArg) -> dict[State, float]:
    """Seconds each final state is kept, for the states that are pruned at all."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        seconds = parse_duration(value)
        return {state: seconds for state in sorted(FINAL_STATES)}
    retention = dict(DEFAULT_RETENTION)
    for key, duration in value.items():
        try:
            state = State(key)
        except ValueError:
            raise ConfigurationError(
                f"retention names {key!r}, which is no state; name final states: "
                f"{', '.join(sorted(FINAL_STATES))}") from None
        if state not in FINAL_STATES:
            raise ConfigurationError(
                f"retention of {state.value!r} tasks: only final tasks are pruned "
                f"({', '.join(sorted(FINAL_STATES))}); a {state.value} task still has to run")
        if duration is None:
            retention.pop(state, None)
        else:
            retention[state] = parse_duration(duration)
    return retention


class Pruner(Service):
    """Deletes final tasks older than ``retention`` (seconds per state), in batches of
    ``batch``, each its own short statement, at most ``BATCHES_PER_RUN`` per run; a run
    that stopped at that bound asks for the next one a second later."""

    name = "pruner"

    def __init__(self, backend: Backend, retention: Mapping[State, float], *,
                 interval: float = 60.0, batch: int = PRUNE_BATCH,
                 jitter: float = 0.1) -> None:
        super().__init__(interval, jitter=jitter)
        self.backend = backend
        self.retention = dict(retention)
        self.batch = batch
        self._backlog = False

    def run_once(self) -> int:
        """Delete up to ``BATCHES_PER_RUN`` batches; how many tasks went."""
        self._backlog = False
        if not self.retention:
            return 0
        total = 0
        for _ in range(BATCHES_PER_RUN):
            deleted = self.backend.tasks_prune(PruneParams(self.retention, self.batch))
            total += deleted
            if deleted < self.batch:
                return total
        self._backlog = True
        return total

    def next_interval(self) -> float:
        return BACKLOG_INTERVAL if self._backlog else super().next_interval()
