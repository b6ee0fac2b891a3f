"""Backoff policies: growth, cap, jitter bounds, and the forms ``backoff=`` accepts."""

from __future__ import annotations

import pytest

from taskbasket import ConfigurationError, ConstantBackoff, ExponentialBackoff
from taskbasket.retry import as_policy
from taskbasket.validation import parse_duration


def test_exponential_growth_with_jitter_within_bounds() -> None:
    policy = ExponentialBackoff(base=2.0, factor=2.0, cap=60.0, jitter=0.5)
    for attempt, raw in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (5, 32.0), (6, 60.0)]:
        assert policy.bounds(attempt) == (raw * 0.5, raw)
        samples = [policy.delay(attempt) for _ in range(300)]
        assert all(raw * 0.5 <= s <= raw for s in samples)
        assert max(samples) - min(samples) > raw * 0.2  # it really jitters
    assert policy.bounds(500) == (30.0, 60.0)  # no overflow, capped


def test_no_jitter_is_exact() -> None:
    policy = ExponentialBackoff(base=1.0, factor=3.0, jitter=0.0)
    assert [policy.delay(n) for n in (1, 2, 3)] == [1.0, 3.0, 9.0]


def test_backoff_option_forms() -> None:
    assert as_policy(2.0) == ExponentialBackoff(base=2.0)
    assert isinstance(as_policy(None), ExponentialBackoff)
    constant = ConstantBackoff(7)
    assert as_policy(constant) is constant
    for bad in (0, -1, True, "2s"):
        with pytest.raises(ConfigurationError):
            as_policy(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="jitter"):
        ExponentialBackoff(jitter=2)


def test_parse_duration() -> None:
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("90") == 90
    assert parse_duration("1.5h") == 5400
    assert parse_duration("250ms") == 0.25
    with pytest.raises(ConfigurationError, match="cannot read duration"):
        parse_duration("soon")
