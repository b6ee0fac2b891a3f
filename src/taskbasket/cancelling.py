"""The Basket's cancel: a task that is not final becomes ``cancelled``, with the reason
in its ``last_error``; a running one loses its lease, and the worker running it learns it
from the store's ``cancel_listener`` (see :mod:`taskbasket.worker.cancels`) and stops the
attempt: an async handler's task is cancelled, a process handler's child killed, a thread
handler sees ``current_task().cancelled``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskbasket import steering
from taskbasket.inspection import NamesArg, StateArg

if TYPE_CHECKING:
    from taskbasket.basket import Basket


class Cancelling:
    """The Basket's ``cancel`` (mixed into :class:`taskbasket.Basket`)."""

    def cancel(
        self,
        task_id: str | Sequence[str] | None = None,
        *,
        queue: NamesArg = None,
        name: NamesArg = None,
        state: StateArg = None,
        reason: str | None = None,
    ) -> int:
        """Cancel tasks that are not final yet; returns how many.

        Each ends ``cancelled`` with ``reason`` (default "cancelled") as its
        ``last_error``. A running task's attempt is stopped where it runs, and can record
        no outcome or result whatever its handler does next.
        """
        basket: Basket = self  # type: ignore[assignment]
        return steering.cancel_tasks(basket.backend, basket.hooks, task_id, queue, name,
                                     state, reason)
