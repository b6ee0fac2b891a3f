"""The Basket's workflow methods: enqueue a chain or group, read a workflow, and cancel
(by ids, selection, or a whole workflow)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskbasket import steering
from taskbasket.canvas import Node
from taskbasket.dependencies import check_workflows
from taskbasket.inspection import NamesArg, StateArg
from taskbasket.task import TaskRef
from taskbasket.workflow_enqueue import enqueue_workflow
from taskbasket.workflows import Workflow, read_workflow

if TYPE_CHECKING:
    from taskbasket.basket import Basket


class Workflows:
    """Mixed into :class:`taskbasket.Basket`."""

    def enqueue_workflow(self, workflow: Node) -> TaskRef:
        """Insert every task of a chain, group or signature in one atomic call; the ref
        of its last step (``chain(...).enqueue()`` calls this)."""
        basket: Basket = self  # type: ignore[assignment]
        return enqueue_workflow(basket, workflow)

    def workflow(self, workflow_id: str) -> Workflow:
        """The tasks of a workflow with their states and dependencies; LookupError if
        the store holds none of them."""
        basket: Basket = self  # type: ignore[assignment]
        check_workflows(basket.backend, basket.url)
        return read_workflow(basket.backend, workflow_id)

    def cancel(
        self,
        task_id: str | Sequence[str] | None = None,
        *,
        queue: NamesArg = None,
        name: NamesArg = None,
        state: StateArg = None,
        workflow_id: str | None = None,
    ) -> int:
        """Cancel tasks that are not final yet; returns how many. ``workflow_id`` selects
        every unfinished task of that workflow (their waiting dependents are cancelled
        with them)."""
        basket: Basket = self  # type: ignore[assignment]
        if workflow_id is not None:
            check_workflows(basket.backend, basket.url)
        return steering.cancel_tasks(basket.backend, basket.hooks, task_id, queue, name,
                                     state, None if workflow_id is None else str(workflow_id))


__all__ = ["Workflows"]
