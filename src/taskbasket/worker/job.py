"""One claimed task inside a worker, from claim to recorded outcome."""

from __future__ import annotations

import enum
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from taskbasket.backends.base import ClaimedTask, Lease, Outcome, OutcomeKind
from taskbasket.context import CancelSignal
from taskbasket.errors import ArgumentsError, Fail, Retry, StoreCorruptedError
from taskbasket.results import DEFAULT_MAX_RESULT_BYTES, UnstorableResult, encode_result
from taskbasket.storable import storable_text
from taskbasket.typed import plan_for, to_wire_result

if TYPE_CHECKING:
    import asyncio

    from taskbasket.definition import TaskDefinition

MAX_ERROR_CHARS = 16_000


class JobPhase(enum.Enum):
    PENDING = "pending"  # claimed, not started
    RUNNING = "running"
    DONE = "done"  # the handler returned or raised; its outcome is being recorded
    ABANDONED = "abandoned"  # timed out or interrupted; a late result is discarded
    RELEASED = "released"  # handed back unstarted


@dataclass(eq=False)
class Job:
    """A claimed task and the phase of its one attempt; phase changes are atomic."""

    claimed: ClaimedTask
    definition: TaskDefinition[Any, Any]
    phase: JobPhase = JobPhase.PENDING
    lease_lost: bool = False
    started: float = 0.0
    ended: float = 0.0
    async_task: asyncio.Task[Any] | None = None
    thread: threading.Thread | None = None
    value: Any = field(default=None, repr=False)
    """What the handler returned (its result, stored when the attempt succeeds)."""
    reporter: Callable[[float, float | None, str | None], None] | None = field(
        default=None, repr=False)
    """Where ``current_task().progress(...)`` reports go (None: they are dropped)."""
    cancel_signal: CancelSignal = field(default_factory=CancelSignal, repr=False)
    """Set when the task was cancelled while this attempt runs (``worker/cancels.py``)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def lease(self) -> Lease:
        return self.claimed.lease

    @property
    def cancelled(self) -> bool:
        """The task was cancelled while this attempt ran: nothing it does is recorded."""
        return self.cancel_signal.is_set()

    @property
    def deadline(self) -> float:
        return self.started + self.claimed.timeout

    def move(self, expected: JobPhase, to: JobPhase) -> bool:
        """Change phase from ``expected`` to ``to``; False if it was not ``expected``."""
        with self._lock:
            if self.phase is not expected:
                return False
            self.phase = to
            if to is JobPhase.RUNNING:
                self.started = time.monotonic()
            return True


def success_outcome(job: Job, max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES) -> Outcome:
    """The outcome of an attempt whose handler returned ``job.value``: succeeded with that
    result encoded (none for a ``delete_on_success`` task), or failed at once, naming why,
    if the value cannot be stored (not JSON, or over ``max_result_bytes``)."""
    value, job.value = job.value, None  # the outcome holds the text; drop the object
    delete = job.definition.delete_on_success
    try:
        if not delete:
            value = to_wire_result(plan_for(job.definition.func), value)
        result = None if delete else encode_result(job.claimed.name, value, max_result_bytes)
    except UnstorableResult as exc:
        return Outcome(job.lease, OutcomeKind.FAILED,
                       error=storable_text(f"UnstorableResult: {exc}"))
    except TypeError as exc:  # not of the return annotation's type: retrying cannot mend it
        return Outcome(job.lease, OutcomeKind.FAILED, error=storable_text(f"TypeError: {exc}"))
    return Outcome(job.lease, OutcomeKind.SUCCEEDED, delete_on_success=delete, result=result)


def _error_text(exc: BaseException) -> str:
    remote: str | None = getattr(exc, "remote_traceback", None)  # raised in a child process
    text = (remote or "".join(traceback.format_exception(exc))).rstrip()
    if len(text) > MAX_ERROR_CHARS:
        text = text[:2000] + "\n[... truncated ...]\n" + text[-(MAX_ERROR_CHARS - 2100):]
    return text


def error_outcome(job: Job, exc: BaseException) -> Outcome:
    """What a raised exception means for this attempt: retry with backoff, or fail.

    The error text is made storable (``storable_text``): a NUL or a lone surrogate in an
    exception's message is escaped visibly instead of making the outcome unstorable.
    """
    outcome = _raw_error_outcome(job, exc)
    return replace(outcome, error=storable_text(outcome.error or ""))


def _raw_error_outcome(job: Job, exc: BaseException) -> Outcome:
    attempts, max_attempts = job.claimed.attempts, job.claimed.max_attempts
    lease = job.lease
    if isinstance(exc, Fail):
        return Outcome(lease, OutcomeKind.FAILED, error=f"Fail: {exc.reason}")
    if isinstance(exc, StoreCorruptedError):  # retrying cannot mend stored data
        return Outcome(lease, OutcomeKind.FAILED, error=f"StoreCorruptedError: {exc}")
    if isinstance(exc, ArgumentsError):  # nor arguments that do not fit the handler
        return Outcome(lease, OutcomeKind.FAILED, error=f"ArgumentsError: {exc}")
    if attempts >= max_attempts:
        error = _error_text(exc)
        note = f"gave up after attempt {attempts} of {max_attempts}"
        return Outcome(lease, OutcomeKind.FAILED, error=f"{error}\n[{note}]")
    if isinstance(exc, Retry):
        delay = exc.delay
        if exc.at is None and delay is None:
            delay = job.definition.backoff.delay(attempts)
        return Outcome(
            lease, OutcomeKind.RETRY, error=f"Retry: {exc.reason}",
            retry_delay=max(0.0, delay or 0.0), retry_at=exc.at,
        )
    delay = job.definition.backoff.delay(attempts)
    return Outcome(lease, OutcomeKind.RETRY, error=_error_text(exc), retry_delay=delay)


UNSTORABLE_ERROR = "taskbasket could not store this attempt's error text"
"""The start of the placeholder error recorded when the store refused an outcome's own."""


def placeholder_outcome(outcome: Outcome, refusal: BaseException) -> Outcome | None:
    """``outcome`` with its error text replaced by a fixed ASCII one naming why the store
    refused it (``refusal``) and quoting its last line escaped; None if it has no error
    text to replace. The completer records this when the outcome itself cannot be stored.
    """
    if outcome.error is None:
        return None
    reason = f"{type(refusal).__name__}: {refusal}".strip()[:1000]
    last_line = (outcome.error.strip().splitlines() or [""])[-1][:300]
    text = f"{UNSTORABLE_ERROR}: {reason}\n[its last line, escaped: {last_line!a}]"
    return replace(outcome, error=_ascii(text))


def _ascii(text: str) -> str:
    """Storable ASCII: what no store refuses."""
    return storable_text(text).encode("ascii", "backslashreplace").decode("ascii")


def timeout_outcome(job: Job) -> Outcome:
    """The outcome of an attempt that ran past its task's timeout."""
    from taskbasket.errors import TaskTimeout

    limit = timedelta(seconds=job.claimed.timeout)
    exc = TaskTimeout(
        f"task {job.claimed.name} ({job.claimed.id}) ran past its timeout of {limit} "
        f"on attempt {job.claimed.attempts}"
    )
    outcome = error_outcome(job, exc)
    first_line = storable_text(f"TaskTimeout: {exc}")
    suffix = "" if outcome.kind is OutcomeKind.RETRY else (
        f"\n[gave up after attempt {job.claimed.attempts} of {job.claimed.max_attempts}]"
    )
    return Outcome(outcome.lease, outcome.kind, first_line + suffix, outcome.retry_delay)
