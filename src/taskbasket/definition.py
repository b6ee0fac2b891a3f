"""A registered task: the handler, its defaults, and the ways to enqueue it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from taskbasket.errors import ConfigurationError
from taskbasket.retry import BackoffPolicy
from taskbasket.task import TaskRef

if TYPE_CHECKING:
    from taskbasket.basket import Basket

P = ParamSpec("P")
R = TypeVar("R")

EXECUTORS = ("thread", "async", "process")


@dataclass(frozen=True, slots=True)
class EnqueueOptions:
    """Per-enqueue choices; None leaves the task's default."""

    queue: str | None = None
    priority: int | None = None
    delay: float | None = None
    run_at: datetime | None = None
    unique_key: str | None = None
    max_attempts: int | None = None
    timeout: float | None = None
    connection: Any = None


_NO_OPTIONS = EnqueueOptions()


class TaskDefinition(Generic[P, R]):
    """A function registered with ``@basket.task``; calling it runs it here and now."""

    def __init__(
        self,
        basket: Basket,
        func: Callable[P, R],
        *,
        name: str,
        queue: str,
        priority: int,
        max_attempts: int,
        timeout: float,
        backoff: BackoffPolicy,
        executor: str,
        delete_on_success: bool = False,
    ) -> None:
        self.basket = basket
        self.func = func
        self.name = name
        self.queue = queue
        self.priority = priority
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.backoff = backoff
        self.executor = executor
        self.delete_on_success = delete_on_success
        """Whether a success removes the task, in the step that records it."""
        self.is_async = inspect.iscoroutinefunction(func)
        self.__doc__ = func.__doc__
        self.__name__ = getattr(func, "__name__", name)
        self.__wrapped__ = func

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<TaskDefinition {self.name!r} queue={self.queue!r}>"

    def options(self, **options: Any) -> BoundTask[P, R]:
        """The same task with other enqueue options (queue, priority, delay, run_at,
        unique_key, max_attempts, timeout, connection)."""
        return BoundTask(self, _make_options(options))

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> TaskRef:
        """Store one call of this task; it runs when a worker claims it."""
        return self.basket.enqueue_calls(self.name, [(args, kwargs)], _NO_OPTIONS)[0]

    async def enqueue_async(self, *args: P.args, **kwargs: P.kwargs) -> TaskRef:
        """``enqueue`` for async code: the store is written without blocking the loop."""
        return await BoundTask(self, EnqueueOptions()).enqueue_async(*args, **kwargs)

    def enqueue_many(self, calls: Iterable[Any]) -> list[TaskRef]:
        """Store many calls in one transaction: each item is a tuple of positional
        arguments, a dict of keyword arguments, or an ``(args, kwargs)`` pair."""
        return BoundTask(self, EnqueueOptions()).enqueue_many(calls)


class BoundTask(Generic[P, R]):
    """A task with enqueue options applied: ``task.options(delay=30).enqueue(...)``."""

    def __init__(self, definition: TaskDefinition[P, R], options: EnqueueOptions) -> None:
        self.definition = definition
        self.opts = options

    def options(self, **options: Any) -> BoundTask[P, R]:
        merged = _make_options(options)
        changes = {k: v for k, v in _fields(merged).items() if v is not None}
        return BoundTask(self.definition, replace(self.opts, **changes))

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> TaskRef:
        basket = self.definition.basket
        return basket.enqueue_calls(self.definition.name, [(args, kwargs)], self.opts)[0]

    async def enqueue_async(self, *args: P.args, **kwargs: P.kwargs) -> TaskRef:
        basket = self.definition.basket
        refs = await basket.enqueue_calls_async(self.definition.name, [(args, kwargs)], self.opts)
        return refs[0]

    def enqueue_many(self, calls: Iterable[Any]) -> list[TaskRef]:
        return self.definition.basket.enqueue_calls(
            self.definition.name, [split_call(call) for call in calls], self.opts
        )


def split_call(call: Any) -> tuple[tuple[Any, ...], Mapping[str, Any]]:
    """One item of ``enqueue_many`` as (args, kwargs)."""
    if type(call) is tuple and (len(call) != 2 or not isinstance(call[0], tuple | list)):
        return call, {}  # the common case, without the slower Mapping check
    if isinstance(call, Mapping):
        return (), call
    if isinstance(call, tuple | list):
        if (
            len(call) == 2 and isinstance(call[0], tuple | list)
            and isinstance(call[1], Mapping)
        ):
            return tuple(call[0]), call[1]
        return tuple(call), {}
    raise ConfigurationError(
        f"each item of enqueue_many must be a tuple of arguments, a dict of keyword "
        f"arguments or an (args, kwargs) pair; got {type(call).__name__}. "
        "For one argument write (value,)"
    )


def _fields(options: EnqueueOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in EnqueueOptions.__slots__}


def _make_options(options: Mapping[str, Any]) -> EnqueueOptions:
    allowed = set(EnqueueOptions.__slots__)
    unknown = sorted(set(options) - allowed)
    if unknown:
        import difflib

        hints = [
            f"{name!r} (did you mean {match[0]!r}?)" if match else repr(name)
            for name in unknown
            for match in [difflib.get_close_matches(name, allowed, n=1)]
        ]
        raise ConfigurationError(
            f"unknown enqueue option {', '.join(hints)}; options are {', '.join(sorted(allowed))}"
        )
    return EnqueueOptions(**options)

