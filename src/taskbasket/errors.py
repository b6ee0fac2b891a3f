"""Exceptions raised by taskbasket, and the two a handler raises to steer its retries."""

from __future__ import annotations

from datetime import datetime, timedelta


class TaskbasketError(Exception):
    """Base class of every error taskbasket raises on its own account.

    Its text never shows a secret: URLs in it are redacted, and so are the passwords and
    tokens of every URL this process opened (a driver's error may echo them).
    """

    def __init__(self, *args: object) -> None:
        from taskbasket.redaction import redact_text

        super().__init__(*(redact_text(arg) if isinstance(arg, str) else arg for arg in args))


class ConfigurationError(TaskbasketError, ValueError):
    """A URL, an option or a setting is wrong; the message says which and how to fix it."""


class UnknownTaskError(TaskbasketError, LookupError):
    """A task name is not registered in this basket."""


class UnknownScheduleError(TaskbasketError, LookupError):
    """No schedule of that name is stored; the message names those that are."""


class ArgumentsError(TaskbasketError, TypeError):
    """A call's arguments do not fit its handler's signature (a missing, unexpected or
    doubled parameter). Raised at enqueue when the handler is registered in the enqueuing
    process; in a worker it fails the task at once, since retrying cannot fix it."""


class BackendUnavailableError(TaskbasketError):
    """The store cannot be reached or used (missing driver, wrong file, server down)."""


class StoreCorruptedError(TaskbasketError):
    """The store holds something taskbasket did not write or cannot read."""


class UnsupportedOperationError(TaskbasketError, NotImplementedError):
    """The chosen store cannot do this (for example transactional enqueue on Redis)."""


class TaskStateError(TaskbasketError, ValueError):
    """An operator action that the task's state does not allow (an edit and retry of a
    task that is not failed or cancelled); nothing was changed."""


class TaskCancelled(BaseException):
    """The running attempt's task was cancelled (``basket.cancel``); ``reason`` says why.

    Raised by ``current_task().raise_if_cancelled()`` in a handler. It derives from
    BaseException, as ``asyncio.CancelledError`` does, so a handler's ``except Exception``
    does not swallow it. Whatever the handler does then, the attempt records nothing: the
    task stays ``cancelled``, with the reason in ``last_error``.
    """

    def __init__(self, reason: str = "cancelled") -> None:
        super().__init__(reason)
        self.reason = reason


class Retry(Exception):
    """Raise from a handler to retry at a given time or after a given delay.

    The attempt still counts against ``max_attempts``; with neither ``delay`` nor ``at`` the
    task's backoff policy picks the delay.
    """

    def __init__(
        self, reason: str = "retry requested", *, delay: float | None = None,
        at: datetime | None = None,
    ) -> None:
        super().__init__(reason)
        from taskbasket.validation import check_delay, check_run_at

        if at is not None:
            check_run_at(at)  # a naive time would mean different things on each store
        if delay is not None:
            delay = check_delay("Retry delay", delay)
        self.reason = reason
        self.delay = delay
        self.at = at


class Snooze(Exception):
    """Raise from a handler to end this attempt without counting it: the task waits
    ``scheduled`` until ``at``, or ``delay`` seconds from now, and then runs again.

    Its ``attempts`` stay as they were and its ``snoozes`` count grows by one; past the
    task's ``max_snoozes`` (default 100) the task fails instead, with an error naming
    the cap. Give ``delay`` (seconds, or a timedelta) or ``at`` (an aware datetime).
    """

    def __init__(self, delay: float | timedelta | None = None, *,
                 at: datetime | None = None) -> None:
        from taskbasket.validation import check_delay, check_run_at

        if (delay is None) == (at is None):
            raise TypeError("Snooze takes one of delay= (seconds) or at= (an aware "
                            f"datetime), got delay={delay!r}, at={at!r}")
        if at is not None:
            check_run_at(at)
        if isinstance(delay, timedelta):
            delay = delay.total_seconds()
        if delay is not None:
            delay = check_delay("Snooze delay", delay)
        super().__init__(f"snoozed for {delay} s" if at is None else f"snoozed until {at}")
        self.delay = delay
        self.at = at


class Fail(Exception):
    """Raise from a handler to fail the task at once, without further retries."""

    def __init__(self, reason: str = "failed by its handler") -> None:
        super().__init__(reason)
        self.reason = reason


class TaskTimeout(TaskbasketError, TimeoutError):
    """An attempt ran past the task's timeout; the attempt counts as failed."""


class TaskFailed(TaskbasketError):
    """The task whose result was awaited ended ``failed`` or ``cancelled``: it has none.

    ``task_id``, ``state`` (a :class:`~taskbasket.State`) and ``last_error`` (the
    error text of its last attempt, None for a cancel) say which and why.
    """

    def __init__(self, task_id: str, state: str, last_error: str | None) -> None:
        line = (last_error or "").strip().splitlines()[-1:] or [""]
        why = f": {line[0]}" if line[0] else ""
        super().__init__(f"task {task_id} ended {state}{why}")
        self.task_id = task_id
        self.state = state
        self.last_error = last_error


class ResultTimeout(TaskbasketError, TimeoutError):
    """Waiting for a task's result took longer than the timeout; the task goes on."""


class StepDeterminismError(TaskbasketError, RuntimeError):
    """A run of a handler used a step name twice, or ran its steps in another order than
    the stored run did (``ctx.step``); the task fails at once: replaying the same steps
    would raise it again. The message names both steps."""


class StepNotRecorded(TaskbasketError):
    """A step ran but its result could not be recorded: this attempt no longer holds the
    task's lease (it expired, or the task was cancelled). The attempt stops; the task
    runs again under its new lease and runs this step again."""


class ReceiveTimeout(TaskbasketError, TimeoutError):
    """``ctx.receive(name, timeout=...)`` waited ``timeout`` seconds and no message named
    ``name`` came (give ``default=`` to get a value instead). Replays of the handler
    raise it again at the same place: the timeout is recorded as the step's outcome."""


class DurableWait(Exception):
    """Raised by ``ctx.sleep``, ``ctx.sleep_until`` and ``ctx.receive`` to end the attempt
    without counting it: the task waits ``scheduled`` until ``at`` and then runs again
    from the top, its completed steps cached. Let it propagate (re-raise it from a broad
    ``except Exception``)."""

    def __init__(self, at: datetime, *, receiving: str | None = None) -> None:
        what = f"a message {receiving!r}" if receiving is not None else "a durable sleep"
        super().__init__(f"waiting for {what} until {at.isoformat()}")
        self.at = at
        self.receiving = receiving


class WorkflowError(ConfigurationError):
    """A workflow (``after=``, ``chain``, ``group``) that cannot be enqueued: a cycle, an
    unknown dependency id, or a dependency kept in another store. Nothing was inserted."""
