"""The Basket's workflow methods: enqueue a chain or group, and read a workflow (its
cancel is ``Basket.cancel(workflow_id=...)``, in ``cancelling``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskbasket.canvas import Node
from taskbasket.dependencies import check_workflows
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


__all__ = ["Workflows"]
