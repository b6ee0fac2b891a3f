"""The parameter and record types of durable steps and messages (``ctx.step``,
``ctx.sleep``, ``ctx.receive``, ``basket.send``).

A task keeps two texts beside its row, both JSON written whole by the core
(``taskbasket.steps``): ``steps``, its completed steps in order, and ``messages``, the
messages sent to it and not yet taken, with the name of the one it waits for. A store
only reads them and swaps them atomically: ``steps_record`` fenced by the lease (a stale
attempt records nothing), ``messages_send`` compared with what the sender read (a
concurrent change makes the sender read again), waking a waiting receiver in the same
step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from taskbasket.backends.params import Lease, stored_state
from taskbasket.task import State


@dataclass(frozen=True, slots=True)
class StepsListParams:
    """Read the steps and messages of one task."""

    task_id: str


@dataclass(frozen=True, slots=True)
class StoredSteps:
    """What ``steps_list`` reads: the task's state and its two texts as stored (None when
    it has none)."""

    state: State
    steps: str | None
    messages: str | None


@dataclass(frozen=True, slots=True)
class MessagesSwap:
    """Replace a task's messages with ``new`` only if they are still ``expected`` (what
    was read; None: it had none)."""

    expected: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class StepsRecordParams:
    """Write ``steps`` (the task's completed steps, all of them) on the task ``lease``
    holds, only while that lease is the current one and the task is running; with
    ``messages``, the messages are swapped in the same atomic step, and nothing is written
    if they changed since they were read."""

    lease: Lease
    steps: str | None
    messages: MessagesSwap | None = None


@dataclass(frozen=True, slots=True)
class MessagesSendParams:
    """Swap the messages of a task that is not final (``messages``, compared with what
    was read); with ``wake``, a task that is ``scheduled`` is made due now in the same
    step (a receiver waiting for what was just sent)."""

    task_id: str
    messages: MessagesSwap
    wake: bool = False


def stored_steps(rows: Sequence[Sequence[Any]]) -> StoredSteps | None:
    """The ``StoredSteps`` of the first row read (id, state, steps, messages, as text),
    None if no row was."""
    if not rows:
        return None
    task_id, state, steps, messages = rows[0]
    return StoredSteps(stored_state(str(task_id), state), steps, messages)


__all__ = ["MessagesSendParams", "MessagesSwap", "StepsListParams", "StepsRecordParams",
           "StoredSteps", "stored_steps"]
