"""Checks on names and option values, each failing with an error that says the fix."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

from taskbasket.backends.base import Backend, ClaimOrder
from taskbasket.errors import ConfigurationError, UnsupportedOperationError
from taskbasket.task import PRIORITY_MAX, PRIORITY_MIN

MAX_NAME_LENGTH = 200

# Upper bounds of durations, in seconds. Past them a number is a mistake (a timeout in
# milliseconds, a delay in microseconds), and some would overflow a clock or a wait on the
# way: a pipe's poll takes at most 2**31 ms (24.8 days), a store's interval or a Lua
# double its own limit. Every duration option is checked against its bound where it is
# given (registration, enqueue, a worker's options), so none reaches a store or an executor.
DAY = 86_400.0
MAX_TIMEOUT = 7 * DAY
"""``timeout`` of a task: at most 7 days."""
MAX_DELAY = 3650 * DAY
"""``delay`` of an enqueue and of ``Retry(delay=...)``, and ``clean(older_than=...)``:
at most 10 years (for a fixed date, ``run_at`` reads better)."""
MAX_BACKOFF = 30 * DAY
"""A backoff policy's base, cap and constant delay: at most 30 days."""
MAX_LEASE = DAY
"""A worker's ``visibility_timeout`` (and the relay's ``lease_seconds``): at most a day."""
MAX_WORKER_INTERVAL = 3600.0
"""A worker's ``poll_interval`` and ``maintenance_interval``: at most an hour."""
MAX_WORKER_WAIT = DAY
"""A worker's ``grace_period`` and ``idle_timeout``: at most a day."""
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def check_name(kind: str, value: Any) -> str:
    """A task or queue name: a non-empty printable str of at most 200 characters."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{kind} name must be a non-empty str, got {value!r}")
    if len(value) > MAX_NAME_LENGTH:
        raise ConfigurationError(
            f"{kind} name is {len(value)} characters long; the limit is {MAX_NAME_LENGTH}"
        )
    if not value.isprintable() or value != value.strip():
        raise ConfigurationError(
            f"{kind} name {value!r} has control characters or surrounding spaces; "
            "use printable text such as 'emails' or 'myapp.send_email'"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigurationError(f"{kind} name {value!r} is not valid UTF-8") from exc
    return value


def check_priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"priority must be an int, got {value!r}")
    if not PRIORITY_MIN <= value <= PRIORITY_MAX:
        raise ConfigurationError(
            f"priority {value} is out of range: use {PRIORITY_MIN}..{PRIORITY_MAX} "
            "(higher runs first)"
        )
    return value


def check_max_attempts(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"max_attempts must be an int >= 1 (1 means no retries), got {value!r}"
        )
    if value > 1_000_000:
        raise ConfigurationError(f"max_attempts {value} is beyond reason; use at most 1000000")
    return value


def check_max_snoozes(value: Any) -> int:
    """A task's ``max_snoozes``: 0 (a snooze fails the task) up to 1000000."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
        raise ConfigurationError(
            f"max_snoozes must be an int from 0 to 1000000 (how many times a task may "
            f"raise Snooze), got {value!r}"
        )
    return value


def check_seconds(
    option: str, value: Any, *, allow_zero: bool, maximum: float | None = None
) -> float:
    """A finite number of seconds, at most ``maximum`` if given (a timedelta is accepted
    too); else a ConfigurationError naming the option, the bound and the fix."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{option} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ConfigurationError(f"{option} must be a finite number of seconds, got {value!r}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigurationError(f"{option} must be {bound} seconds, got {value!r}")
    if maximum is not None and seconds > maximum:
        raise ConfigurationError(
            f"{option}={value!r} is over its limit of {describe_seconds(maximum)}; pass at "
            f"most {maximum:.0f} seconds (durations are in seconds, not milliseconds)"
        )
    return seconds


def describe_seconds(seconds: float) -> str:
    """A bound for messages: '10 years', '7 days', '1 hour', '90 seconds'."""
    for unit, size in (("year", 365 * DAY), ("day", DAY), ("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"


def check_timeout(value: Any) -> float:
    """A task's run timeout: more than 0 and at most :data:`MAX_TIMEOUT` seconds."""
    return check_seconds("timeout", value, allow_zero=False, maximum=MAX_TIMEOUT)


def check_delay(option: str, value: Any) -> float:
    """A delay (or age) of 0 up to :data:`MAX_DELAY` seconds."""
    return check_seconds(option, value, allow_zero=True, maximum=MAX_DELAY)


def check_claim_order(value: Any, backend: Backend) -> ClaimOrder:
    """A worker's ``order``: 'priority', or 'created' where ``backend`` can keep it."""
    try:
        order = ClaimOrder(value)
    except ValueError:
        raise ConfigurationError(
            f"order {value!r} is unknown; choose 'priority' (the default: higher priority "
            "first, then earlier run_at, then earlier enqueue) or 'created' (earlier enqueue "
            "first, whatever the priority)"
        ) from None
    if order is ClaimOrder.CREATED and not backend.capabilities.created_order:
        where = getattr(backend, "transport_name", None) or type(backend).__name__
        raise UnsupportedOperationError(
            f"{where} cannot claim in enqueue order whatever the priority (order='created'); "
            "use order='priority' (the default) with it, or a store that can (SQLite, "
            "PostgreSQL, MySQL, Redis, file://)"
        )
    return order


def check_run_at(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise ConfigurationError(f"run_at must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigurationError(
            f"run_at {value.isoformat()} has no time zone; pass an aware datetime such as "
            "datetime.now(timezone.utc) + timedelta(minutes=5)"
        )
    return value


def check_unique_key(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"unique_key must be a non-empty str or None, got {value!r}")
    if len(value) > 255:
        raise ConfigurationError(f"unique_key is {len(value)} characters; the limit is 255")
    return value


def parse_duration(
    text: str | float | int | timedelta, option: str = "duration",
    maximum: float | None = None,
) -> float:
    """Seconds from '90', '30s', '15m', '12h', '7d', '2w' or '250ms', at most ``maximum``
    if given (the error names ``option``)."""
    if isinstance(text, timedelta | int | float) and not isinstance(text, bool):
        return check_seconds(option, text, allow_zero=True, maximum=maximum)
    match = _DURATION.match(str(text))
    if not match:
        where = "" if option == "duration" else f" for {option}"
        raise ConfigurationError(
            f"cannot read duration {text!r}{where}: write a number with an optional unit "
            "ms, s, m, h, d or w, e.g. 30s, 15m or 7d"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    return check_seconds(option, seconds, allow_zero=True, maximum=maximum)
