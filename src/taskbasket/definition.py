"""A registered task: the handler, its defaults, and the ways to enqueue it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from taskbasket.canvas import Signature
from taskbasket.errors import ArgumentsError, ConfigurationError
from taskbasket.limits import NO_FLOW, TaskFlow
from taskbasket.retry import BackoffPolicy
from taskbasket.task import TaskRef
from taskbasket.typed import plan_for, to_wire

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
    after: Sequence[Any] | None = None
    """TaskRefs or ids of tasks that must succeed before this one runs."""
    limit_key: str | None = None


_NO_OPTIONS = EnqueueOptions()


class ArgumentCheck:
    """Whether arguments fit a handler's signature, as Python binds them at a call.

    The signature is read once, as ``inspect.signature`` reads it (a decorator that changes
    a handler's parameters should set ``__signature__``); a fast check covers each call and
    ``Signature.bind`` words the problem. A handler whose signature cannot be read (some
    builtins) accepts anything here.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        try:
            self.signature: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):
            self.signature = None
            return
        kind = inspect.Parameter
        params = list(self.signature.parameters.values())
        positional = [p for p in params
                      if p.kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD)]
        self._positional_count = len(positional)
        self._index = {p.name: i for i, p in enumerate(positional)}
        self._positional_only = frozenset(
            p.name for p in params if p.kind is kind.POSITIONAL_ONLY)
        self._keywords = frozenset(
            p.name for p in params if p.kind in (kind.POSITIONAL_OR_KEYWORD, kind.KEYWORD_ONLY))
        self._var_positional = any(p.kind is kind.VAR_POSITIONAL for p in params)
        self._var_keyword = any(p.kind is kind.VAR_KEYWORD for p in params)
        self._required_positional = tuple(
            (i, p.name) for i, p in enumerate(positional) if p.default is p.empty)
        self._required_keywords = tuple(
            p.name for p in params if p.kind is kind.KEYWORD_ONLY and p.default is p.empty)

    def problem(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str | None:
        """Why a call with these arguments cannot bind (naming the parameter), or None."""
        if self.signature is None or self._fits(args, kwargs):
            return None
        try:
            self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            return str(exc)
        return None

    def _fits(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> bool:
        count = len(args)
        if count > self._positional_count and not self._var_positional:
            return False
        for key in kwargs:
            if key in self._keywords:
                index = self._index.get(key)
                if index is not None and index < count:
                    return False  # given twice
            elif not self._var_keyword:
                return False
        for index, name in self._required_positional:
            if index >= count and (name not in kwargs or name in self._positional_only):
                return False
        return all(name in kwargs for name in self._required_keywords)


def arguments_error(
    name: str, func: Callable[..., Any], problem: str, check: ArgumentCheck | None = None
) -> ArgumentsError:
    """The error for a call of task ``name`` that cannot bind to ``func``."""
    signature = (check or ArgumentCheck(func)).signature
    parameters = "(...)" if signature is None else str(signature.replace(
        parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
        return_annotation=signature.empty))
    shown = f"{getattr(func, '__name__', name)}{parameters}"
    return ArgumentsError(
        f"task {name!r} cannot be called with these arguments: {problem}; its handler is "
        f"{shown}"
    )


def binding_failure(
    name: str, func: Callable[..., Any], exc: BaseException, args: Sequence[Any],
    kwargs: Mapping[str, Any], check: ArgumentCheck | None = None,
) -> BaseException:
    """``exc`` as an ArgumentsError if it is the TypeError of a call whose arguments do not
    bind to ``func`` (the handler never ran); else ``exc`` itself."""
    if not isinstance(exc, TypeError) or isinstance(exc, ArgumentsError):
        return exc
    check = check or ArgumentCheck(func)
    problem = check.problem(args, kwargs)
    if problem is None:
        return exc  # raised inside the handler: an ordinary failure
    error = arguments_error(name, func, problem, check)
    error.__cause__ = exc
    return error


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
        max_snoozes: int = 100,
        flow: TaskFlow = NO_FLOW,
    ) -> None:
        self.basket = basket
        self.flow = flow
        """The task's concurrency and rate limits and its limit_key."""
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
        self.max_snoozes = max_snoozes
        """How many times a task may ``Snooze``; the snooze past it fails the task."""
        self.is_async = inspect.iscoroutinefunction(func)
        self.arguments = ArgumentCheck(func)
        self.__doc__ = func.__doc__
        self.__name__ = getattr(func, "__name__", name)
        self.__wrapped__ = func

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<TaskDefinition {self.name!r} queue={self.queue!r}>"

    def check_arguments(self, calls: Sequence[tuple[Sequence[Any], Mapping[str, Any]]]) -> None:
        """Raise ArgumentsError (a TypeError) if any call does not fit the handler."""
        problem = self.arguments.problem
        for number, (args, kwargs) in enumerate(calls):
            found = problem(args, kwargs)
            if found is not None:
                where = f" (call {number} of {len(calls)})" if len(calls) > 1 else ""
                raise arguments_error(self.name, self.func, found + where, self.arguments)

    def wire_calls(self, calls: Sequence[tuple[Sequence[Any], Mapping[str, Any]]],
                   ) -> Sequence[tuple[Sequence[Any], Mapping[str, Any]]]:
        """The calls with their typed arguments in JSON form (``taskbasket.typed``);
        ArgumentsError names a parameter whose value is not of its annotated type."""
        plan = plan_for(self.func)
        if not plan.converts_arguments:
            return calls
        wired = []
        for number, (args, kwargs) in enumerate(calls):
            try:
                wired.append(to_wire(plan, args, kwargs, self.name))
            except ArgumentsError as exc:
                if len(calls) == 1:
                    raise
                raise ArgumentsError(f"{exc} (call {number} of {len(calls)})") from None
        return wired

    def options(self, **options: Any) -> BoundTask[P, R]:
        """The same task with other enqueue options (queue, priority, delay, run_at,
        unique_key, max_attempts, timeout, connection, after, limit_key)."""
        return BoundTask(self, _make_options(options))

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """A signature: this call as a step of a ``chain`` or ``group``, receiving the
        previous step's result as its first positional argument."""
        return Signature(self, args, kwargs)

    def si(self, *args: Any, **kwargs: Any) -> Signature:
        """An immutable signature: a step that receives nothing from the steps before."""
        return Signature(self, args, kwargs, immutable=True)

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

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """A signature with these options (see ``TaskDefinition.s``)."""
        return Signature(self, args, kwargs)

    def si(self, *args: Any, **kwargs: Any) -> Signature:
        """An immutable signature with these options (see ``TaskDefinition.si``)."""
        return Signature(self, args, kwargs, immutable=True)

    async def enqueue_async(self, *args: P.args, **kwargs: P.kwargs) -> TaskRef:
        basket = self.definition.basket
        refs = await basket.enqueue_calls_async(self.definition.name, [(args, kwargs)], self.opts)
        return refs[0]

    def enqueue_many(self, calls: Iterable[Any]) -> list[TaskRef]:
        return self.definition.basket.enqueue_calls(
            self.definition.name, [split_call(call) for call in calls], self.opts
        )


def refuse_async_connection(connection: Any) -> None:
    """A sync enqueue cannot use an async connection or session (psycopg AsyncConnection,
    SQLAlchemy AsyncSession/AsyncConnection, ...): its methods are coroutines."""
    if inspect.iscoroutinefunction(getattr(type(connection), "execute", None)):
        kind = f"{type(connection).__module__}.{type(connection).__name__}"
        raise ConfigurationError(
            f"connection= is an async connection ({kind}): a sync enqueue cannot use it. "
            "Enqueue with enqueue_async() instead, e.g. "
            "await send_email.options(connection=session).enqueue_async(...)"
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


def check_executor(executor: str | None, fn: Callable[..., Any]) -> str:
    """The executor of handler ``fn``: the one given if it fits, else its default."""
    is_async = inspect.iscoroutinefunction(fn)
    if executor is None:
        return "async" if is_async else "thread"
    if executor not in EXECUTORS:
        raise ConfigurationError(
            f"executor {executor!r} is unknown; choose one of {', '.join(EXECUTORS)}"
        )
    if executor == "async" and not is_async:
        raise ConfigurationError(
            f"executor='async' needs an async def handler; {fn!r} is sync "
            "(use executor='thread' or 'process')"
        )
    if executor == "thread" and is_async:
        raise ConfigurationError(
            f"executor='thread' runs sync handlers; {fn!r} is async (use executor='async')"
        )
    if executor == "process" and "<locals>" in getattr(fn, "__qualname__", "<locals>"):
        raise ConfigurationError(
            f"executor='process' runs handlers in child processes that import them by "
            f"name; {fn!r} is defined inside a function. Define it at module level"
        )
    return executor
