"""The dashboard's Workflow page: one workflow's tasks in the order they can run, each
with its state, what it waits for and its outcome, and a form to cancel the workflow
(POSTed with the session's CSRF token); plus its JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from taskbasket.dashboard.views import DASHBOARD_CANCEL_REASON
from taskbasket.workflows import Workflow

if TYPE_CHECKING:
    from taskbasket.dashboard.views import Dashboard


def levels(workflow: Workflow) -> dict[str, int]:
    """Each task's depth: 0 for those that wait for no task of the workflow, else one
    more than the deepest task they wait for (tasks are listed oldest first, so a
    dependency comes before its dependents)."""
    depth: dict[str, int] = {}
    for task in workflow:
        parents = [depth[d] for d in workflow.dependencies[task.id] if d in depth]
        depth[task.id] = 1 + max(parents) if parents else 0
    return depth


class WorkflowPages:
    """The workflow endpoints of one dashboard (``create_app`` routes them)."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    async def _workflow(self, request: Request) -> Workflow:
        workflow_id = request.path_params["workflow_id"]
        basket = self.dashboard.basket
        if not basket.backend.capabilities.workflows:
            raise HTTPException(404, "This backend keeps no workflows.")
        try:
            return await run_in_threadpool(basket.workflow, workflow_id)
        except LookupError:
            raise HTTPException(404, f"There is no workflow {workflow_id} (any more).") from None

    async def page(self, request: Request) -> Response:
        workflow = await self._workflow(request)
        return self.dashboard.render(request, "workflow.html", {
            "workflow": workflow, "depth": levels(workflow),
            "open": any(not task.is_final for task in workflow),
            "names": {task.id: task.name for task in workflow}})

    async def api(self, request: Request) -> Response:
        workflow = await self._workflow(request)
        tasks: list[dict[str, Any]] = [{
            "id": task.id, "name": task.name, "state": task.state.value,
            "depends_on": workflow.dependencies[task.id], "last_error": task.last_error,
        } for task in workflow]
        return JSONResponse({"id": workflow.id, "state": workflow.state.value, "tasks": tasks})

    async def cancel(self, request: Request) -> Response:
        await self.dashboard.checked_form(request)
        workflow = await self._workflow(request)
        basket = self.dashboard.basket
        count = await run_in_threadpool(lambda: basket.cancel(
            workflow_id=workflow.id, reason=DASHBOARD_CANCEL_REASON))
        self.dashboard.sampler.invalidate()
        return RedirectResponse(self.dashboard.url(
            request, f"/workflows/{quote(workflow.id, safe='')}",
            {"notice": "workflow_cancelled", "n": str(count)}), 303)


__all__ = ["WorkflowPages", "levels"]
