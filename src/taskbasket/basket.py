"""Basket: the client. It registers tasks, enqueues them, and inspects and steers the store."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from taskbasket.app_connection import driver_connection, driver_connection_async
from taskbasket.backends import DEFAULT_URL, open_backend, open_backend_check
from taskbasket.backends.base import (
    Backend,
    CountByNameParams,
    ListParams,
    NewTask,
    PruneParams,
    StoredTask,
    TaskFilter,
)
from taskbasket.codec import DEFAULT_MAX_PAYLOAD_BYTES, decode_arguments, encode_arguments
from taskbasket.definition import (
    EXECUTORS,
    EnqueueOptions,
    TaskDefinition,
    refuse_async_connection,
    split_call,
)
from taskbasket.errors import ConfigurationError, StoreCorruptedError, UnknownTaskError
from taskbasket.events import EnqueueMiddleware, Event, EventKind, Hook, Hooks, Middleware
from taskbasket.ids import canonical_task_id, new_task_ids
from taskbasket.maintenance.pruner import DEFAULT_RETENTION, RetentionArg, parse_retention
from taskbasket.redaction import redact_url, remember_secrets
from taskbasket.retry import BackoffPolicy, as_policy
from taskbasket.task import (
    FINAL_STATES,
    PENDING_STATES,
    CorruptTask,
    State,
    Task,
    TaskList,
    TaskRef,
)
from taskbasket.validation import (
    MAX_DELAY,
    check_delay,
    check_max_attempts,
    check_name,
    check_priority,
    check_run_at,
    check_timeout,
    check_unique_key,
    parse_duration,
)

if TYPE_CHECKING:
    from taskbasket.worker import Worker

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_QUEUE = "default"
DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_TIMEOUT = 300.0

StateArg = State | str | Sequence[State | str] | None
NamesArg = str | Sequence[str] | None


def _states(state: StateArg) -> list[State] | None:
    if state is None:
        return None
    values = [state] if isinstance(state, str) else list(state)
    result = []
    for value in values:
        try:
            result.append(State(value))
        except ValueError:
            raise ConfigurationError(
                f"unknown state {value!r}; states are {', '.join(s.value for s in State)}"
            ) from None
    return result


def _names(value: NamesArg) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _readable(stored: StoredTask | CorruptTask) -> StoredTask:
    """The stored task, or StoreCorruptedError naming it and what is wrong with its row."""
    if isinstance(stored, CorruptTask):
        raise StoreCorruptedError(
            f"task {stored.id} is corrupt in the store: {stored.reason}. It was not "
            "written by taskbasket (or was changed since): fix its row, or delete it "
            f"(taskbasket delete {stored.id})"
        )
    return stored


class Basket:
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
        if max_payload_bytes < 1:
            raise ConfigurationError("max_payload_bytes must be >= 1")
        self.max_payload_bytes = max_payload_bytes
        self.retention = parse_retention(retention)
        """Seconds each final state is kept (a state not in it is kept for ever)."""
        self._backend = backend
        self._backend_options = backend_options
        self._lock = threading.Lock()
        self.registry: dict[str, TaskDefinition[Any, Any]] = {}
        self.hooks = Hooks()
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

    def use_url(self, url: str) -> None:
        """Point this basket at another store, before it has been opened: an explicit
        URL (``taskbasket --url``) wins over the one in code."""
        if self._backend is not None:
            raise ConfigurationError("the store is open already; choose the URL before use")
        open_backend_check(url)
        self.url = url

    def close(self) -> None:
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
    ) -> TaskDefinition[P, R] | Callable[[Callable[P, R]], TaskDefinition[P, R]]:
        """Register a handler, as ``@basket.task`` or ``@basket.task(queue=..., ...)``.

        The task's name is ``name`` or the function's ``__name__``; workers find the
        handler by that name, so renaming a function strands its queued tasks. With
        ``delete_on_success=True`` a task is deleted in the step that records its success
        (a failed one is kept): nothing can wait for its result or see it succeeded.
        """
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
                executor=_check_executor(executor, fn),
                delete_on_success=delete_on_success,
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
        check_name("task", name)
        definition = self.registry.get(name)
        if definition is not None:
            definition.check_arguments(calls)
        queue = options.queue if options.queue is not None else (
            definition.queue if definition else self.default_queue
        )
        check_name("queue", queue)
        priority = check_priority(
            options.priority if options.priority is not None
            else (definition.priority if definition else 0)
        )
        max_attempts = check_max_attempts(
            options.max_attempts if options.max_attempts is not None
            else (definition.max_attempts if definition else DEFAULT_MAX_ATTEMPTS)
        )
        timeout = check_timeout(
            options.timeout if options.timeout is not None
            else (definition.timeout if definition else DEFAULT_TIMEOUT)
        )
        if options.delay is not None and options.run_at is not None:
            raise ConfigurationError("pass either delay or run_at, not both")
        delay = check_delay("delay", options.delay) if options.delay else 0.0
        run_at = check_run_at(options.run_at) if options.run_at is not None else None
        unique_key = check_unique_key(options.unique_key)
        if unique_key is not None and len(calls) > 1:
            raise ConfigurationError(
                "unique_key applies to one task; enqueue_many would give every call the same "
                "key. Enqueue them one by one with their own keys"
            )
        max_bytes = self.max_payload_bytes
        payloads = [encode_arguments(name, args, kwargs, max_bytes, headers)
                    for args, kwargs in calls]
        return [
            NewTask(
                id=task_id, name=name, queue=queue, payload=payload, priority=priority,
                max_attempts=max_attempts, timeout=timeout, unique_key=unique_key,
                delay=delay, run_at=run_at,
            )
            for task_id, payload in zip(new_task_ids(len(payloads)), payloads, strict=True)
        ]

    def enqueue_calls(
        self,
        name: str,
        calls: Sequence[tuple[Sequence[Any], Mapping[str, Any]]],
        options: EnqueueOptions,
    ) -> list[TaskRef]:
        """Validate, encode and store calls of task ``name`` in one transaction."""
        if options.connection is not None and self.backend.capabilities.transactional_enqueue:
            refuse_async_connection(options.connection)
        headers: dict[str, str] = {}
        # (without enqueue middleware, a null context: cheaper than an empty chain)
        scope = (self.hooks.around_enqueue(name, headers) if self.hooks.enqueue_middleware
                 else contextlib.nullcontext())
        with scope:
            tasks = self._new_tasks(name, calls, options, headers)
            refs = self.backend.tasks_insert(tasks, driver_connection(options.connection))
        self._enqueued(tasks, refs)
        return refs

    def _enqueued(self, tasks: Sequence[NewTask], refs: Sequence[TaskRef]) -> None:
        if not self.hooks.wants(EventKind.ENQUEUED):
            return
        for task, ref in zip(tasks, refs, strict=True):
            if ref.created:
                self.hooks.emit(Event(EventKind.ENQUEUED, ref.id, task.name, task.queue,
                                      max_attempts=task.max_attempts))

    async def enqueue_calls_async(
        self,
        name: str,
        calls: Sequence[tuple[Sequence[Any], Mapping[str, Any]]],
        options: EnqueueOptions,
    ) -> list[TaskRef]:
        """``enqueue_calls`` without blocking the event loop."""
        if self._backend is None:
            import asyncio

            await asyncio.to_thread(lambda: self.backend)
        headers: dict[str, str] = {}
        with self.hooks.around_enqueue(name, headers):
            tasks = self._new_tasks(name, calls, options, headers)
            connection = await driver_connection_async(options.connection)
            refs = await self.backend.tasks_insert_async(tasks, connection)
        self._enqueued(tasks, refs)
        return refs

    # ------------------------------------------------------------------ inspection

    def _to_task(self, stored: StoredTask, with_arguments: bool = True) -> Task:
        payload_error = None
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        try:
            if with_arguments:
                args, kwargs = decode_arguments(stored.id, stored.payload)
        except StoreCorruptedError as exc:
            payload_error = str(exc)
        return Task(
            id=stored.id, name=stored.name, queue=stored.queue, state=stored.state,
            priority=stored.priority, attempts=stored.attempts,
            max_attempts=stored.max_attempts, timeout=stored.timeout, args=args,
            kwargs=kwargs, unique_key=stored.unique_key, last_error=stored.last_error,
            created_at=stored.created_at, run_at=stored.run_at, started_at=stored.started_at,
            finished_at=stored.finished_at, lease_expires_at=stored.lease_expires_at,
            worker_id=stored.worker_id, payload_error=payload_error,
        )

    @staticmethod
    def _filter(
        task_id: str | Sequence[str] | None = None,
        state: StateArg = None,
        queue: NamesArg = None,
        name: NamesArg = None,
    ) -> TaskFilter:
        return TaskFilter(
            ids=_names(task_id), states=_states(state), queues=_names(queue), names=_names(name)
        )

    def get(self, task_id: str, *, with_arguments: bool = True) -> Task | None:
        """The task with this id, or None if there is none (any more).

        ``with_arguments=False`` leaves ``args`` and ``kwargs`` empty and does not read
        them from the store: a cheap look at a task's state, whatever its arguments' size.
        StoreCorruptedError, naming the task and what is wrong, if its row cannot be read.
        """
        if with_arguments:
            stored = self.backend.tasks_get(str(task_id))
            return None if stored is None else self._to_task(_readable(stored))
        found = self.backend.tasks_list(
            ListParams(TaskFilter(ids=[str(task_id)]), limit=1, with_payload=False))
        return self._to_task(_readable(found[0]), with_arguments=False) if found else None

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
        if limit < 1:
            raise ConfigurationError(f"limit must be >= 1, got {limit}")
        if before is not None:
            before = canonical_task_id(before, "before")
        stored = self.backend.tasks_list(
            ListParams(self._filter(None, state, queue, name), limit=limit, before_id=before,
                       with_payload=with_arguments)
        )
        return TaskList(
            [self._to_task(s, with_arguments) for s in stored if not isinstance(s, CorruptTask)],
            [s for s in stored if isinstance(s, CorruptTask)],
            stored[-1].id if stored else None,
        )

    def count(
        self, state: StateArg = None, *, queue: NamesArg = None, name: NamesArg = None
    ) -> int:
        return self.backend.tasks_count(self._filter(None, state, queue, name))

    def stats(self) -> dict[tuple[str, State], int]:
        """Counts per (queue, state)."""
        return self.backend.tasks_stats()

    def counts_by_state(self) -> dict[State, int]:
        """Counts per state over every queue; every state is present."""
        totals = dict.fromkeys(State, 0)
        for (_, state), count in self.stats().items():
            totals[state] += count
        return totals

    def unknown_names(
        self, queues: Sequence[str] | None = None, limit: int = 10_000
    ) -> dict[str, int]:
        """Task names waiting in the store that no handler in this basket knows, with how
        many tasks of each wait.

        Over all queues this is a grouped count (no task is read); for given ``queues`` it
        counts among the newest ``limit`` waiting tasks of those queues, read without
        their arguments (a corrupt one, whose name cannot be trusted, is not counted).
        """
        if queues is None:
            waiting = self.backend.tasks_count_by_name(CountByNameParams(sorted(PENDING_STATES)))
        else:
            waiting = {}
            for task in self.backend.tasks_list(ListParams(
                TaskFilter(states=sorted(PENDING_STATES), queues=queues), limit=limit,
                with_payload=False,
            )):
                if not isinstance(task, CorruptTask):
                    waiting[task.name] = waiting.get(task.name, 0) + 1
        return {name: count for name, count in waiting.items()
                if count and name not in self.registry}

    # ------------------------------------------------------------------ operators

    def retry(
        self,
        task_id: str | Sequence[str] | None = None,
        *,
        queue: NamesArg = None,
        name: NamesArg = None,
        state: StateArg = None,
    ) -> int:
        """Run tasks again from attempt zero: one id, or every failed task of a queue/name.

        Without ``state`` it retries failed tasks when selecting by queue or name, and any
        retryable state when given ids. Returns how many tasks were requeued.
        """
        if task_id is None and state is None:
            state = State.FAILED
        return self.backend.tasks_retry(self._filter(task_id, state, queue, name))

    def cancel(
        self,
        task_id: str | Sequence[str] | None = None,
        *,
        queue: NamesArg = None,
        name: NamesArg = None,
        state: StateArg = None,
    ) -> int:
        """Cancel tasks that are not final yet; returns how many."""
        if task_id is None and queue is None and name is None and state is None:
            raise ConfigurationError("cancel needs ids or a queue, name or state to select by")
        selection = self._filter(task_id, state, queue, name)
        if not self.hooks.wants(EventKind.CANCELLED):
            return self.backend.tasks_cancel(selection)
        # with cancelled hooks: find the tasks first, so each hook learns which one
        open_states = [s for s in State if s not in FINAL_STATES]
        states = [s for s in (selection.states or open_states) if s in open_states]
        candidates = [t for t in self.backend.tasks_list(ListParams(
            TaskFilter(selection.ids, states, selection.queues, selection.names),
            limit=1_000_000)) if not isinstance(t, CorruptTask)]
        if not candidates:
            return 0
        count = self.backend.tasks_cancel(TaskFilter(ids=[t.id for t in candidates]))
        for task in candidates:
            current = self.backend.tasks_get(task.id) if count < len(candidates) else None
            if current is None or (
                    not isinstance(current, CorruptTask) and current.state is State.CANCELLED):
                self.hooks.emit(Event(EventKind.CANCELLED, task.id, task.name, task.queue,
                                      task.attempts, task.max_attempts))
        return count

    def delete(self, task_id: str | Sequence[str]) -> int:
        """Delete tasks by id, whatever their state; returns how many."""
        return self.backend.tasks_delete(self._filter(task_id))

    def purge(
        self, state: StateArg = None, *, queue: NamesArg = None, name: NamesArg = None
    ) -> int:
        """Delete every task that matches (all tasks when nothing is given)."""
        return self.backend.tasks_delete(self._filter(None, state, queue, name))

    def clean(
        self,
        older_than: float | str | timedelta = "7d",
        *,
        state: StateArg = None,
        batch_size: int = 1000,
    ) -> int:
        """Delete final tasks that finished longer than ``older_than`` ago, in batches."""
        states = _states(state) or sorted(FINAL_STATES)
        not_final = [s for s in states if s not in FINAL_STATES]
        if not_final:
            raise ConfigurationError(
                f"clean removes only final tasks; {', '.join(not_final)} are not final "
                "(use purge to delete those)"
            )
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size!r}")
        age = parse_duration(older_than, "older_than", MAX_DELAY)
        params = PruneParams(dict.fromkeys(states, age), batch_size)
        total = 0
        while True:
            deleted = self.backend.tasks_prune(params)
            total += deleted
            if deleted < batch_size:
                return total

    # ------------------------------------------------------------------ workers

    def worker(self, **options: Any) -> Worker:
        """A worker for this basket's tasks; see :class:`taskbasket.worker.Worker`."""
        from taskbasket.worker import Worker

        return Worker(self, **options)


def _check_executor(executor: str | None, fn: Callable[..., Any]) -> str:
    import inspect

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
