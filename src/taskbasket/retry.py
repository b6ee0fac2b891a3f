"""Backoff policies: how long a failed task waits before its next attempt."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from taskbasket.errors import ConfigurationError
from taskbasket.validation import MAX_BACKOFF, check_seconds


@runtime_checkable
class BackoffPolicy(Protocol):
    """Anything with ``delay(attempt) -> seconds`` can steer retries."""

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1 for the first)."""
        ...


@dataclass(frozen=True, slots=True)
class ExponentialBackoff:
    """``base * factor**(attempt-1)`` seconds, capped at ``cap``, with random jitter.

    ``jitter`` is the fraction that may be taken off: with 0.5 the delay lies in
    ``[raw/2, raw]``, so workers that failed together do not retry in lockstep.
    """

    base: float = 2.0
    factor: float = 2.0
    cap: float = 3600.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        check_seconds("backoff base", self.base, allow_zero=False, maximum=MAX_BACKOFF)
        check_seconds("backoff cap", self.cap, allow_zero=False, maximum=MAX_BACKOFF)
        if not self.factor >= 1:
            raise ConfigurationError(f"backoff factor must be >= 1, got {self.factor!r}")
        if not self.cap >= self.base:
            raise ConfigurationError(
                f"backoff cap ({self.cap!r}) must be at least its base ({self.base!r})"
            )
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"backoff jitter must be within [0, 1], got {self.jitter!r}")

    def bounds(self, attempt: int) -> tuple[float, float]:
        """The smallest and largest delay this policy can return for ``attempt``."""
        exponent = max(0, attempt - 1)
        try:
            raw = min(self.cap, self.base * self.factor**exponent)
        except OverflowError:
            raw = self.cap
        return raw * (1 - self.jitter), raw

    def delay(self, attempt: int) -> float:
        low, high = self.bounds(attempt)
        return random.uniform(low, high)


@dataclass(frozen=True, slots=True)
class ConstantBackoff:
    """The same delay after every failed attempt."""

    seconds: float = 5.0

    def __post_init__(self) -> None:
        check_seconds("backoff", self.seconds, allow_zero=True, maximum=MAX_BACKOFF)

    def delay(self, attempt: int) -> float:
        return self.seconds


def as_policy(backoff: float | int | BackoffPolicy | None) -> BackoffPolicy:
    """Turn a task's ``backoff`` option (seconds or a policy) into a policy."""
    if backoff is None:
        return ExponentialBackoff()
    if isinstance(backoff, bool):
        raise ConfigurationError("backoff must be seconds (a number) or a policy, not a bool")
    if isinstance(backoff, int | float):
        if not backoff > 0:
            raise ConfigurationError(
                f"backoff must be > 0 seconds, got {backoff!r}; pass e.g. backoff=2.0"
            )
        check_seconds("backoff", backoff, allow_zero=False, maximum=MAX_BACKOFF)
        return ExponentialBackoff(base=float(backoff), cap=max(3600.0, float(backoff)))
    if isinstance(backoff, BackoffPolicy):
        return backoff
    raise ConfigurationError(
        f"backoff must be seconds or an object with delay(attempt), got {type(backoff).__name__}"
    )
