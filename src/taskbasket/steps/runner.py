"""Durable steps, sleeps and receives for one attempt of one task (``ctx.step``,
``ctx.sleep``, ``ctx.sleep_until``, ``ctx.receive``).

A run of the handler replays the task's stored steps from the top: a completed step
returns its stored result without running, a new one runs and is recorded by the lease
holder before the run goes on. Sleeps and receives are steps too: a sleep records its
wake time, and a receive records the message it took (in the same atomic step that takes
it from the mailbox) or its timeout, so that a replay returns the same answer at once.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from taskbasket.backends.base import Backend, ClaimedTask
from taskbasket.backends.step_params import (
    MessagesSendParams,
    MessagesSwap,
    StepsListParams,
    StepsRecordParams,
)
from taskbasket.errors import DurableWait, Fail, ReceiveTimeout, StepNotRecorded
from taskbasket.results import DEFAULT_MAX_RESULT_BYTES, UnstorableResult, encode_result
from taskbasket.results import decode_result as decode_text
from taskbasket.steps.journal import Journal, decode_steps, encode_steps
from taskbasket.steps.mailbox import decode_mailbox
from taskbasket.task import State

FOREVER = timedelta(days=36500)
"""How long a receive without a timeout waits: a hundred years."""

MISSING: Any = object()
"""``ctx.receive``'s default for ``default``: a timeout raises ReceiveTimeout."""


class StepRunner:
    """The durable steps of one attempt: loads the stored steps once (on the first step)
    and records each new one, fenced by the attempt's lease."""

    def __init__(self, backend: Backend, claimed: ClaimedTask,
                 max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES) -> None:
        self.backend = backend
        self.task_id = claimed.id
        self.task_name = claimed.name
        self.lease = claimed.lease  # (not the ClaimedTask: a handler's context may outlive
        # its attempt, in an event loop's cancelled timer, and must not keep the payload)
        self.max_result_bytes = max_result_bytes
        self.receiving: str | None = None
        """The message this attempt ended waiting for (the worker wakes the task if it
        was sent before the wait was recorded), or None."""
        self._journal: Journal | None = None
        self._counts: dict[str, int] = {}

    # ------------------------------------------------------------------ steps

    def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` once as the step ``name`` and return its result (as
        JSON gives it back: a tuple comes back a list, in the first run as in replays)."""
        journal = self._reach_checked(name)
        done, result = journal.reach(name)
        if done:
            return decode_text(self.task_id, result)
        return self._recorded(journal, name, fn(*args, **kwargs))

    async def step_async(self, name: str, fn: Callable[..., Any], *args: Any,
                         **kwargs: Any) -> Any:
        """``step`` for async handlers: ``fn`` may be a coroutine function (awaited) or a
        plain one; the store is called off the event loop."""
        journal = await asyncio.to_thread(self._reach_checked, name)
        done, result = journal.reach(name)
        if done:
            return decode_text(self.task_id, result)
        value = fn(*args, **kwargs)
        if inspect.isawaitable(value):
            value = await value
        return await asyncio.to_thread(self._recorded, journal, name, value)

    def close(self) -> None:
        """The attempt ended: drop the steps read (``receiving`` stays)."""
        self._journal = None

    def _reach_checked(self, name: str) -> Journal:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a step name is a non-empty str, got {name!r}")
        return self.journal()

    def journal(self) -> Journal:
        """The steps of this run, read from the store on first use."""
        if self._journal is None:
            row = self.backend.steps_list(StepsListParams(self.task_id))
            if row is None:
                raise StepNotRecorded(f"task {self.task_id} is no longer in the store")
            self._journal = Journal(self.task_id, self.task_name,
                                    decode_steps(self.task_id, row.steps))
        return self._journal

    def _recorded(self, journal: Journal, name: str, value: Any) -> Any:
        try:
            text = encode_result(f"{self.task_name} step {name!r}", value,
                                 self.max_result_bytes)
        except UnstorableResult as exc:  # the same body would return the same again
            raise Fail(f"UnstorableResult: {exc}") from exc
        self._record(journal, journal.completed(name, text))
        return decode_text(self.task_id, text)

    def _record(self, journal: Journal, steps: list[tuple[str, str | None]],
                swap: MessagesSwap | None = None) -> bool:
        recorded = self.backend.steps_record(
            StepsRecordParams(self.lease, encode_steps(steps), swap))
        if recorded:
            journal.advance(steps)
        elif swap is None:
            raise StepNotRecorded(
                f"task {self.task_name} ({self.task_id}): step {steps[-1][0]!r} ran "
                "but could not be recorded: this attempt no longer holds the task's lease "
                "(it expired or the task was cancelled); the task runs again under its new "
                "lease")
        return recorded

    def auto_name(self, kind: str) -> str:
        """The step name of the n-th sleep or receive of a kind in this run."""
        count = self._counts[kind] = self._counts.get(kind, 0) + 1
        return kind if count == 1 else f"{kind}#{count}"

    def _now(self) -> float:
        """The store's clock (a sleep's wake time is compared with the run_at it sets)."""
        return self.backend.now().timestamp()

    # ------------------------------------------------------------------ sleeps

    def sleep(self, seconds: float | timedelta) -> None:
        """End the attempt and wait ``seconds`` durably (see ``TaskContext.sleep``)."""
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"ctx.sleep takes a finite number of seconds >= 0, got "
                             f"{seconds!r}")
        self._sleep(lambda now: now + float(seconds))

    def sleep_until(self, moment: datetime) -> None:
        """End the attempt and wait until ``moment`` (an aware datetime) durably."""
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            raise ValueError(f"ctx.sleep_until takes an aware datetime (with a tzinfo), got "
                             f"{moment!r}")
        self._sleep(lambda now: moment.timestamp())

    def _sleep(self, until_of: Callable[[float], float]) -> None:
        journal = self.journal()
        name = self.auto_name("sleep")
        done, result = journal.reach(name)
        if done:
            until = float(json.loads(result or "{}").get("until", 0.0))
        else:
            until = until_of(self._now())
            self._record(journal, journal.completed(name, json.dumps({"until": until})))
        if self._now() < until:  # not yet (or woken early): wait again, uncounted
            raise DurableWait(datetime.fromtimestamp(until, UTC))

    # ------------------------------------------------------------------ receives

    def receive(self, name: str, timeout: float | timedelta | None = None,
                default: Any = MISSING) -> Any:
        """The next message named ``name`` (see ``TaskContext.receive``)."""
        if isinstance(timeout, timedelta):
            timeout = timeout.total_seconds()
        if timeout is not None and (not math.isfinite(timeout) or timeout < 0):
            raise ValueError(f"ctx.receive timeout is seconds >= 0 or None, got {timeout!r}")
        journal = self.journal()
        step_name = self.auto_name(f"receive:{name}")
        done, result = journal.reach(step_name)
        if not done:
            result = self._take(journal, step_name, name, timeout)
        data = json.loads(result or "{}")
        if "value" in data:
            return decode_text(self.task_id, data["value"])
        if default is not MISSING:
            return default
        raise ReceiveTimeout(
            f"task {self.task_name} ({self.task_id}): no message {name!r} came "
            f"within the receive's timeout of {timeout} s; pass default= to get a value "
            "instead")

    def _take(self, journal: Journal, step_name: str, name: str,
              timeout: float | None) -> str:
        """Take the message (or record the timeout) as the step, or end the attempt."""
        refused: str | None = None
        while True:
            row = self.backend.steps_list(StepsListParams(self.task_id))
            if row is None or row.state is not State.RUNNING or (
                    refused is not None and row.messages == refused):
                raise StepNotRecorded(
                    f"task {self.task_name} ({self.task_id}): the receive of "
                    f"{name!r} could not be recorded: this attempt lost its lease")
            box = decode_mailbox(self.task_id, row.messages)
            found, value, rest = box.take(name)
            now = self._now()
            waiting = box.waiting if box.waiting and box.waiting[0] == name else None
            if found:
                outcome: dict[str, Any] | None = {"value": value}
            elif (waiting and waiting[1] is not None and now >= waiting[1]) or (
                    not waiting and timeout == 0):
                outcome, rest = {"timeout": True}, box.stop_waiting()
            else:
                outcome = None
                until = None if timeout is None else now + timeout
                rest = box.wait_for(name, until)
            swap = MessagesSwap(row.messages, rest.encode())
            if outcome is not None:
                text = json.dumps(outcome)
                if self._record(journal, journal.completed(step_name, text), swap):
                    return text
            elif rest == box or self._record(journal, journal.stored, swap):
                self.receiving = name
                deadline = rest.waiting[1] if rest.waiting else None
                at = (datetime.fromtimestamp(now, UTC) + FOREVER if deadline is None
                      else datetime.fromtimestamp(deadline, UTC))
                raise DurableWait(at, receiving=name)
            refused = row.messages


def wake_if_sent(backend: Backend, task_id: str) -> None:
    """After an attempt's wait for a message was recorded: make the task due now if the
    message came meanwhile (a send to a running task cannot wake it; this closes that
    window). A sender that changes the messages after this read wakes it itself."""
    row = backend.steps_list(StepsListParams(task_id))
    if row is None or row.state is not State.SCHEDULED:
        return
    if decode_mailbox(task_id, row.messages).wakes:
        backend.messages_send(MessagesSendParams(
            task_id, MessagesSwap(row.messages, row.messages), wake=True))


__all__ = ["FOREVER", "MISSING", "StepRunner", "wake_if_sent"]
