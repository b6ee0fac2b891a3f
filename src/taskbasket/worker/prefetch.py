"""The worker's ``prefetch`` option: how many claimed tasks may wait for a slot.

Across a network every claim costs a round trip. Claiming only for free slots leaves a
slot idle for that round trip each time it frees; claiming a few more tasks than there
are free slots keeps the next ones at hand. The number is a cap: a worker never holds
more than ``concurrency + prefetch`` tasks, so the others still get their share.
"""

from __future__ import annotations

from taskbasket.errors import ConfigurationError

MAX_PREFETCH = 1000
"""The largest ``prefetch`` accepted: beyond it a worker hoards work from the others."""

PREFETCH_CAP = 64
"""The default never prefetches more than this, whatever the concurrency."""


def default_prefetch(concurrency: int) -> int:
    """The default: four times the slots, at most ``PREFETCH_CAP`` (it only comes into play
    while tasks run shorter than a claim's round trip: see ``PrefetchGauge``)."""
    return min(4 * concurrency, PREFETCH_CAP)


def check_prefetch(prefetch: int | None, concurrency: int) -> int:
    """``prefetch`` checked (None: the default for ``concurrency``)."""
    if prefetch is None:
        return default_prefetch(concurrency)
    if isinstance(prefetch, bool) or not isinstance(prefetch, int) or not (
        0 <= prefetch <= MAX_PREFETCH
    ):
        raise ConfigurationError(
            f"prefetch must be an int within 0..{MAX_PREFETCH} (tasks claimed beyond the "
            f"free slots; 0 claims for free slots only), got {prefetch!r}")
    return prefetch


class PrefetchGauge:
    """Whether prefetching pays now: only while the worker's recent attempts run shorter
    than its recent claims take (moving averages of both, in seconds).

    Then a slot that frees would sit idle for a claim's round trip, and a prefetched task
    waits about one attempt's length for its slot, less than that round trip. With longer
    tasks (or before any attempt has ended) the worker claims for free slots only, so that
    no task waits behind a busy worker while another is idle (lazy claiming).
    """

    WEIGHT = 0.2
    """How much each new figure moves an average."""

    def __init__(self) -> None:
        self.run_seconds: float | None = None
        self.claim_seconds: float | None = None

    def _moved(self, average: float | None, seconds: float) -> float:
        return seconds if average is None else average + self.WEIGHT * (seconds - average)

    def attempt_ran(self, seconds: float) -> None:
        self.run_seconds = self._moved(self.run_seconds, max(0.0, seconds))

    def claim_took(self, seconds: float) -> None:
        self.claim_seconds = self._moved(self.claim_seconds, max(0.0, seconds))

    @property
    def active(self) -> bool:
        return (self.run_seconds is not None and self.claim_seconds is not None
                and self.run_seconds <= self.claim_seconds)
