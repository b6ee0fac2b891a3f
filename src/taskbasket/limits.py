"""A task's flow limits as declared (``@basket.task(concurrency=, rate_limit=,
limit_key=)``), and the limit key of one call, worked out at enqueue."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from taskbasket.backends.flow_params import FlowLimit, Rate, check_concurrency, parse_rate
from taskbasket.errors import ConfigurationError

MAX_LIMIT_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class TaskFlow:
    """At most ``concurrency`` running and ``rate`` starts per window, counted per
    ``limit_key`` value (a callable of the task's arguments), or for the task name as a
    whole when it has no key."""

    concurrency: int | None = None
    rate: Rate | None = None
    limit_key: Callable[..., str] | None = None

    @classmethod
    def of(cls, concurrency: Any, rate_limit: Any, limit_key: Any) -> TaskFlow:
        """Checked: ConfigurationError names the field that is wrong."""
        if limit_key is not None and not callable(limit_key):
            raise ConfigurationError(
                f"limit_key must be a function of the task's arguments returning a str "
                f"(e.g. lambda account_id, **_: f'acct:{{account_id}}'); got {limit_key!r}. "
                "For one enqueue, pass an explicit key with .options(limit_key='...')")
        return cls(check_concurrency("concurrency", concurrency),
                   parse_rate("rate_limit", rate_limit), limit_key)

    @property
    def limit(self) -> FlowLimit:
        return FlowLimit(self.concurrency, self.rate)

    @property
    def declared(self) -> bool:
        """The task has a limit or a key: its claims go through admission."""
        return self.concurrency is not None or self.rate is not None or self.limit_key is not None


NO_FLOW = TaskFlow()


def check_limit_key(task: str, value: Any, source: str) -> str:
    """A limit key: a non-empty printable str of at most 200 characters."""
    if not isinstance(value, str) or not value or not value.isprintable():
        raise ConfigurationError(
            f"limit_key of task {task!r} must be a non-empty printable str; {source} gave "
            f"{value!r}")
    if len(value) > MAX_LIMIT_KEY_LENGTH:
        raise ConfigurationError(
            f"limit_key of task {task!r} is {len(value)} characters long ({source}); the "
            f"limit is {MAX_LIMIT_KEY_LENGTH}")
    return value


def limit_keys(task: str, flow: TaskFlow, explicit: str | None,
               calls: Sequence[tuple[Sequence[Any], Mapping[str, Any]]]) -> list[str | None]:
    """The limit key of each call: ``explicit`` if given, else the task's ``limit_key``
    applied to the call's arguments, else None. A key function that raises or returns
    anything but a str is a ConfigurationError naming the task, before anything is stored."""
    if explicit is not None:
        key = check_limit_key(task, explicit, ".options(limit_key=...)")
        return [key] * len(calls)
    function = flow.limit_key
    if function is None:
        return [None] * len(calls)
    keys: list[str | None] = []
    for args, kwargs in calls:
        try:
            value = function(*args, **kwargs)
        except Exception as exc:
            raise ConfigurationError(
                f"limit_key of task {task!r} raised {type(exc).__name__}: {exc}; it is "
                "called with the task's arguments (give it **_ to accept the ones it does "
                "not use)") from exc
        keys.append(check_limit_key(task, value, "its limit_key function"))
    return keys
