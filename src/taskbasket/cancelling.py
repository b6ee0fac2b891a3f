"""The Basket's cancel: a task that is not final becomes ``cancelled``, with the reason
in its ``last_error``; a running one loses its lease, and the worker running it learns it
from the store's ``cancel_listener`` (see :mod:`taskbasket.worker.cancels`) and stops the
attempt: an async handler's task is cancelled, a process handler's child killed, a thread
handler sees ``current_task().cancelled``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskbasket import steering
from taskbasket.dependencies import check_workflows
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
        workflow_id: str | None = None,
    ) -> int:
        """Cancel tasks that are not final yet; returns how many.

        Each ends ``cancelled`` with ``reason`` (default "cancelled") as its
        ``last_error``. A running task's attempt is stopped where it runs, and can record
        no outcome or result whatever its handler does next. ``workflow_id`` selects every
        unfinished task of that workflow; the waiting dependents of the tasks cancelled
        are cancelled with them, their ``last_error`` naming the dependency and the reason.
        """
        basket: Basket = self  # type: ignore[assignment]
        if workflow_id is not None:
            check_workflows(basket.backend, basket.url)
        return steering.cancel_tasks(basket.backend, basket.hooks, task_id, queue, name,
                                     state, reason,
                                     None if workflow_id is None else str(workflow_id))
