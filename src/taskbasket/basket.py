"""Basket: the client. It registers tasks, enqueues them, and inspects and steers the store.

This module holds the Basket itself (construction, the store, registration, hooks and the
enqueue entry points); the work behind its methods is in ``enqueueing`` (calls turned into
stored tasks), ``inspection`` (reading the store) and ``steering`` (operator actions).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from taskbasket import enqueueing, inspection, steering
from taskbasket.backends import DEFAULT_URL, open_backend, open_backend_check
from taskbasket.backends.base import Backend, NewTask
from taskbasket.cancelling import Cancelling
from taskbasket.codec import DEFAULT_MAX_PAYLOAD_BYTES
from taskbasket.definition import EnqueueOptions, TaskDefinition, check_executor, split_call
from taskbasket.editing import Editing
from taskbasket.enqueueing import DEFAULT_MAX_ATTEMPTS as DEFAULT_MAX_ATTEMPTS
from taskbasket.enqueueing import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from taskbasket.errors import ConfigurationError, UnknownTaskError
from taskbasket.events import EnqueueMiddleware, Hook, Hooks, Middleware
from taskbasket.flow import FlowControl
from taskbasket.inspection import NamesArg as NamesArg
from taskbasket.inspection import StateArg as StateArg
from taskbasket.limits import TaskFlow
from taskbasket.maintenance.pruner import DEFAULT_RETENTION, RetentionArg, parse_retention
from taskbasket.messaging import Messaging
from taskbasket.observing import Observing
from taskbasket.redaction import redact_url, remember_secrets
from taskbasket.result_methods import DEFAULT_MAX_RESULT_BYTES, Results, check_byte_limit
from taskbasket.retry import BackoffPolicy, as_policy
from taskbasket.scheduling import Scheduling
from taskbasket.task import State, Task, TaskList, TaskRef
from taskbasket.validation import (
    check_max_attempts,
    check_max_snoozes,
    check_name,
    check_priority,
    check_timeout,
)
from taskbasket.workflow_methods import Workflows

if TYPE_CHECKING:
    from taskbasket.worker import Worker

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_QUEUE = "default"


class Basket(Editing, Messaging, Workflows, Scheduling, Results, FlowControl, Observing,
             Cancelling):
    """The client of one store: a registry of tasks plus enqueue and inspection.

    ``Basket(url)`` uses ``url``; ``Basket()`` uses ``$TASKBASKET_URL`` or else
    ``sqlite:///taskbasket.db`` (the whole rule: ``backends.URL_PRECEDENCE``). The store
    is opened on first use, so creating a Basket at import time costs nothing. Thread-safe.

    ``retention`` is how long finished tasks are kept before this basket's workers (while
    one of them leads the store's maintenance) delete them: by default succeeded and
    cancelled tasks for 24 hours, failed ones for 7 days. One duration applies to every
    final state, a mapping such as ``{"failed": "30d"}`` changes the states it names (None
    for a state keeps it), and ``retention=None`` keeps every task.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        default_queue: str = DEFAULT_QUEUE,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        retention: RetentionArg = DEFAULT_RETENTION,
        backend: Backend | None = None,
        **backend_options: Any,
    ) -> None:
        if url is None:
            url = backend.url if backend else os.environ.get("TASKBASKET_URL") or DEFAULT_URL
        self.url = url
        if isinstance(url, str):
            remember_secrets(url)  # so that no error or log line of this process shows them
        self.default_queue = check_name("queue", default_queue)
        self.max_payload_bytes = check_byte_limit("max_payload_bytes", max_payload_bytes)
        self.max_result_bytes = check_byte_limit("max_result_bytes", max_result_bytes)
        self.retention = parse_retention(retention)
        """Seconds each final state is kept (a state not in it is kept for ever)."""
        self._backend = backend
        self._backend_options = backend_options
        self._lock = threading.Lock()
        self.registry: dict[str, TaskDefinition[Any, Any]] = {}
        self.hooks = Hooks()
        self.inline_runner: enqueueing.InlineTasks | None = None
        self.declared_schedules = {}  # @basket.periodic's, written when a worker starts
        """Set by ``taskbasket.testing.inline``: enqueued tasks run at once, unstored."""
        if backend is None:
            # fail fast on a bad scheme without connecting
            from urllib.parse import urlsplit

            from taskbasket.backends import BACKENDS

            scheme = urlsplit(self.url).scheme.lower().split("+", 1)[0]
            if scheme not in BACKENDS:
                open_backend(self.url)  # raises the error that lists supported schemes

    def __repr__(self) -> str:
        return f"<Basket {redact_url(self.url)!r} tasks={len(self.registry)}>"

    @property
    def backend(self) -> Backend:
        """The store, opened (and migrated, where the store needs it) on first use."""
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    self._backend = open_backend(self.url, **self._backend_options)
        return self._backend

    def swap_store(self, url: str, backend: Backend | None) -> tuple[str, Backend | None]:
        """Use ``backend`` (the store ``url`` names; None: open ``url`` on next use) from
        now on; the URL and store it used until now, to swap back. For test helpers
        (``taskbasket.testing.isolated``): a worker already made keeps its store."""
        with self._lock:
            previous = (self.url, self._backend)
            self.url, self._backend = url, backend
        return previous

    def use_url(self, url: str) -> None:
        """Point this basket at another store, before it has been opened: an explicit
        URL (``taskbasket --url``) wins over the one in code."""
        if self._backend is not None:
            raise ConfigurationError("the store is open already; choose the URL before use")
        open_backend_check(url)
        self.url = url

    def close(self) -> None:
        self.close_results()
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self) -> Basket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def migrate(self) -> None:
        """Create or upgrade the store's schema (workers do this on start too)."""
        self.backend.migrate()

    # ------------------------------------------------------------------ registry

    @overload
    def task(self, func: Callable[P, R], /) -> TaskDefinition[P, R]: ...

    @overload
    def task(
        self,
        func: None = None,
        /,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout: float = DEFAULT_TIMEOUT,
        backoff: float | BackoffPolicy | None = None,
        executor: str | None = None,
        delete_on_success: bool = False,
        max_snoozes: int = 100,
        concurrency: int | None = None,
        rate_limit: str | None = None,
        limit_key: Callable[..., str] | None = None,
    ) -> Callable[[Callable[P, R]], TaskDefinition[P, R]]: ...

    def task(
        self,
        func: Callable[P, R] | None = None,
        /,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout: float = DEFAULT_TIMEOUT,
        backoff: float | BackoffPolicy | None = None,
        executor: str | None = None,
        delete_on_success: bool = False,
        max_snoozes: int = 100,
        concurrency: int | None = None,
        rate_limit: str | None = None,
        limit_key: Callable[..., str] | None = None,
    ) -> TaskDefinition[P, R] | Callable[[Callable[P, R]], TaskDefinition[P, R]]:
        """Register a handler, as ``@basket.task`` or ``@basket.task(queue=..., ...)``.

        The task's name is ``name`` or the function's ``__name__``; workers find the
        handler by that name, so renaming a function strands its queued tasks. With
        ``delete_on_success=True`` a task is deleted in the step that records its success
        (a failed one is kept): nothing can wait for its result or see it succeeded.
        ``max_snoozes`` caps how often a task may ``raise Snooze(...)``.
        ``concurrency``, ``rate_limit`` and ``limit_key`` limit its tasks across every
        worker (docs/flow-control.md).
        """
        flow = TaskFlow.of(concurrency, rate_limit, limit_key)
        if not isinstance(delete_on_success, bool):
            raise ConfigurationError(
                f"delete_on_success must be True or False, got {delete_on_success!r}")

        def register(fn: Callable[P, R]) -> TaskDefinition[P, R]:
            if not callable(fn):
                raise ConfigurationError(f"@basket.task needs a function, got {fn!r}")
            default_name = getattr(fn, "__name__", "")
            task_name = check_name("task", name if name is not None else default_name)
            definition = TaskDefinition(
                self,
                fn,
                name=task_name,
                queue=check_name("queue", queue or self.default_queue),
                priority=check_priority(priority),
                max_attempts=check_max_attempts(max_attempts),
                timeout=check_timeout(timeout),
                backoff=as_policy(backoff),
                executor=check_executor(executor, fn),
                delete_on_success=delete_on_success,
                max_snoozes=check_max_snoozes(max_snoozes),
                flow=flow,
            )
            existing = self.registry.get(task_name)
            if existing is not None and existing.func is not fn:
                where = getattr(existing.func, "__module__", "?")
                raise ConfigurationError(
                    f"task name {task_name!r} is already registered by {where}; "
                    "give one of them another name with @basket.task(name=...)"
                )
            self.registry[task_name] = definition
            return definition

        if func is not None:
            return register(func)
        return register

    def unregister(self, name: str) -> TaskDefinition[Any, Any]:
        """Forget the handler of task ``name`` and return its definition.

        A running worker of this basket stops claiming that name from its next claim;
        attempts already running finish, and a task it claimed in that moment is handed
        back unstarted. Tasks of that name stay in the store for another worker that
        knows it. An unknown name raises :class:`UnknownTaskError` (a ``LookupError``)
        naming the closest registered one.
        """
        with self._lock:
            self.get_definition(name)  # raises, with the close matches
            return self.registry.pop(name)

    # ------------------------------------------------------------------ hooks

    def on(self, *kinds: str) -> Callable[[Hook], Hook]:
        """Register a hook for events: ``@basket.on("failed", "retrying")``.

        Kinds: enqueued, started, succeeded, retrying, failed, cancelled, lease_expired.
        A hook that raises is logged and ignored.
        """
        if not kinds:
            raise ConfigurationError("name at least one event, e.g. @basket.on('failed')")

        def register(hook: Hook) -> Hook:
            self.hooks.add(kinds, hook)
            return hook

        return register

    def middleware(self, factory: Middleware) -> Middleware:
        """Register middleware around every execution: a generator that yields once."""
        import inspect

        if not inspect.isgeneratorfunction(factory):
            raise ConfigurationError(
                "middleware must be a generator function that yields once, e.g.\n"
                "@basket.middleware\ndef timing(task):\n    start = time.time()\n"
                "    yield\n    print(task.name, time.time() - start)"
            )
        self.hooks.middleware.append(factory)
        return factory

    def enqueue_middleware(self, factory: EnqueueMiddleware) -> EnqueueMiddleware:
        """Register middleware around every enqueue: a generator of (name, headers) that
        yields once; headers it sets are stored with the task (e.g. a trace context)."""
        import inspect

        if not inspect.isgeneratorfunction(factory):
            raise ConfigurationError("enqueue middleware must be a generator function")
        self.hooks.enqueue_middleware.append(factory)
        return factory

    def get_definition(self, name: str) -> TaskDefinition[Any, Any]:
        try:
            return self.registry[name]
        except KeyError:
            raise self._unknown_name(name) from None

    def _unknown_name(self, name: str, hint: str = "") -> UnknownTaskError:
        import difflib

        close = difflib.get_close_matches(name, list(self.registry), n=3)
        guess = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        return UnknownTaskError(
            f"no task named {name!r} is registered in this basket.{guess} Known: "
            f"{', '.join(sorted(self.registry)) or 'none'}{hint}"
        )

    def _check_name_known(self, name: str, strict: bool) -> None:
        """Refuse a name this basket does not register, when it registers any (strict)."""
        if strict and self.registry and name not in self.registry:
            raise self._unknown_name(name, ". To enqueue a task that only other workers "
                                           "know, pass strict=False (on the command line: "
                                           "leave out --app)")

    # ------------------------------------------------------------------ enqueue

    def enqueue(
        self,
        name: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        strict: bool = True,
        **options: Any,
    ) -> TaskRef:
        """Enqueue a task by name, with enqueue options (queue, delay, ...).

        A basket with no task registered (a producer that imports no handlers) enqueues
        any name. A basket that registers tasks knows its names: an unknown one, usually a
        typo, raises UnknownTaskError with the close matches, unless ``strict=False`` (for
        a task that only workers of another code base handle).
        """
        from taskbasket.definition import _make_options

        self._check_name_known(check_name("task", name), strict)
        return self.enqueue_calls(name, [(tuple(args), kwargs or {})], _make_options(options))[0]

    def enqueue_many(
        self, name: str, calls: Iterable[Any], *, strict: bool = True, **options: Any
    ) -> list[TaskRef]:
        """Enqueue many calls of one task by name, in one transaction; ``strict`` as for
        :meth:`enqueue`."""
        from taskbasket.definition import _make_options

        self._check_name_known(check_name("task", name), strict)
        return self.enqueue_calls(name, [split_call(c) for c in calls], _make_options(options))

    def _new_tasks(
        self,
        name: str,
        calls: Sequence[tuple[Sequence[Any], Mapping[str, Any]]],
        options: EnqueueOptions,
        headers: Mapping[str, str] | None = None,
    ) -> list[NewTask]:
        return enqueueing.new_tasks(self, name, calls, options, headers)

    def enqueue_calls(
        self,
        name: str,
        calls: Sequence[tuple[Sequence[Any], Mapping[str, Any]]],
        options: EnqueueOptions,
    ) -> list[TaskRef]:
        """Validate, encode and store calls of task ``name`` in one transaction."""
        return enqueueing.enqueue_calls(self, name, calls, options)

    async def enqueue_calls_async(
        self,
        name: str,
        calls: Sequence[tuple[Sequence[Any], Mapping[str, Any]]],
        options: EnqueueOptions,
    ) -> list[TaskRef]:
        """``enqueue_calls`` without blocking the event loop."""
        if self._backend is None and self.inline_runner is None:
            import asyncio

            await asyncio.to_thread(lambda: self.backend)
        return await enqueueing.enqueue_calls_async(self, name, calls, options)

    # ------------------------------------------------------------------ inspection

    def get(self, task_id: str, *, with_arguments: bool = True) -> Task | None:
        """The task with this id, or None if there is none (any more).

        ``with_arguments=False`` leaves ``args`` and ``kwargs`` empty and does not read
        them from the store: a cheap look at a task's state, whatever its arguments' size.
        StoreCorruptedError, naming the task and what is wrong, if its row cannot be read.
        """
        return inspection.get_task(self.backend, task_id, with_arguments)

    def list(
        self,
        state: StateArg = None,
        *,
        queue: NamesArg = None,
        name: NamesArg = None,
        limit: int = 50,
        before: str | None = None,
        with_arguments: bool = True,
    ) -> TaskList:
        """Tasks newest first; pass ``.last_id`` of a page as ``before`` for the next one.

        Stored tasks that cannot be read are left out of the list and kept in its
        ``corrupt`` attribute (id and reason), so one corrupt row never hides the others.
        ``with_arguments=False`` leaves every task's ``args`` and ``kwargs`` empty and
        does not read them from the store, for listings that do not show them.
        ``before`` must be a task id (a UUID); anything else is a ConfigurationError, on
        every store.
        """
        return inspection.list_tasks(self.backend, state, queue, name, limit, before,
                                     with_arguments)

    def count(
        self, state: StateArg = None, *, queue: NamesArg = None, name: NamesArg = None
    ) -> int:
        return self.backend.tasks_count(inspection.task_filter(None, state, queue, name))

    def stats(self) -> dict[tuple[str, State], int]:
        """Counts per (queue, state)."""
        return self.backend.tasks_stats()

    def counts_by_state(self) -> dict[State, int]:
        """Counts per state over every queue; every state is present."""
        return inspection.counts_by_state(self.stats())

    def unknown_names(
        self, queues: Sequence[str] | None = None, limit: int = 10_000
    ) -> dict[str, int]:
        """Task names waiting in the store that no handler in this basket knows, with how
        many tasks of each wait.

        Over all queues this is a grouped count (no task is read); for given ``queues`` it
        counts among the newest ``limit`` waiting tasks of those queues, read without
        their arguments (a corrupt one, whose name cannot be trusted, is not counted).
        """
        return inspection.unknown_names(self.backend, self.registry, queues, limit)

    # ------------------------------------------------------------------ operators

    def delete(self, task_id: str | Sequence[str]) -> int:
        """Delete tasks by id, whatever their state; returns how many."""
        return self.backend.tasks_delete(inspection.task_filter(task_id))

    def purge(
        self, state: StateArg = None, *, queue: NamesArg = None, name: NamesArg = None
    ) -> int:
        """Delete every task that matches (all tasks when nothing is given)."""
        return self.backend.tasks_delete(inspection.task_filter(None, state, queue, name))

    def clean(
        self,
        older_than: float | str | timedelta = "7d",
        *,
        state: StateArg = None,
        batch_size: int = 1000,
    ) -> int:
        """Delete final tasks that finished longer than ``older_than`` ago, in batches."""
        return steering.clean_tasks(self.backend, older_than, state, batch_size)

    # ------------------------------------------------------------------ workers

    def worker(self, **options: Any) -> Worker:
        """A worker for this basket's tasks; see :class:`taskbasket.worker.Worker`."""
        from taskbasket.worker import Worker

        return Worker(self, **options)
