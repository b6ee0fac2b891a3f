"""The Basket's ``send`` (a message to a task that receives it, ``ctx.receive``) and
``steps`` (what a task's durable steps recorded)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from taskbasket.backends.step_params import MessagesSendParams, MessagesSwap, StepsListParams
from taskbasket.errors import TaskStateError
from taskbasket.results import decode_result, encode_result
from taskbasket.steps.journal import decode_steps
from taskbasket.steps.mailbox import decode_mailbox
from taskbasket.task import TaskRef

if TYPE_CHECKING:
    from taskbasket.basket import Basket


class Messaging:
    """The Basket's message method (mixed into :class:`taskbasket.Basket`)."""

    def send(self, task_id: str | TaskRef, name: str, value: Any = None) -> None:
        """Send the message ``name`` with ``value`` (JSON, as a result is) to a task.

        It is kept until the task takes it (``ctx.receive(name)``), so a message sent
        before the task asks is not lost; several of one name are taken oldest first. A
        task waiting for ``name`` is woken (made due now) in the same atomic step.
        TaskStateError if there is no such task or it is final (nothing would read it);
        UnsupportedOperationError on a message bus.
        """
        basket: Basket = self  # type: ignore[assignment]
        backend = basket.backend
        target = task_id.id if isinstance(task_id, TaskRef) else str(task_id)
        if not isinstance(name, str) or not name:
            raise TypeError(f"a message name is a non-empty str, got {name!r}")
        text = encode_result(f"message {name!r}", value, basket.max_result_bytes)
        while True:
            row = backend.steps_list(StepsListParams(target))
            if row is None:
                raise TaskStateError(f"no task {target} in the store: the message {name!r} "
                                     "was not sent")
            if row.state.is_final:
                raise TaskStateError(
                    f"task {target} is {row.state.value}: no one would read the message "
                    f"{name!r}, so it was not sent")
            box = decode_mailbox(target, row.messages).sent(name, text)
            swap = MessagesSwap(row.messages, box.encode())
            if backend.messages_send(MessagesSendParams(target, swap, wake=box.wakes)):
                return  # else the task changed meanwhile: read it again

    def steps(self, task_id: str | TaskRef) -> list[tuple[str, Any]]:
        """The durable steps a task completed, in the order it ran them: (name, result)
        pairs (a sleep's result is its wake time, a receive's the message it took, or its
        timeout). Empty for a task without steps; TaskStateError if there is no such
        task; UnsupportedOperationError on a message bus."""
        basket: Basket = self  # type: ignore[assignment]
        target = task_id.id if isinstance(task_id, TaskRef) else str(task_id)
        row = basket.backend.steps_list(StepsListParams(target))
        if row is None:
            raise TaskStateError(f"no task {target} in the store")
        return [(name, decode_result(target, result))
                for name, result in decode_steps(target, row.steps)]


__all__ = ["Messaging"]
