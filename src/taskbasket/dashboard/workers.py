"""The dashboard's Workers page (the worker registry: each worker's host, pid, queues,
busy slots and last heartbeat, live or gone) and its JSON, and the explanation shown on a
task's page (``basket.explain``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from taskbasket.explanation import Explanation
from taskbasket.workers import WorkerInfo

if TYPE_CHECKING:
    from taskbasket.basket import Basket
    from taskbasket.dashboard.views import Dashboard


async def explanation_of(basket: Basket, task_id: str) -> Explanation | None:
    """Why the task is not running, or None where the store keeps no worker registry."""
    if not basket.backend.capabilities.worker_registry:
        return None
    return await run_in_threadpool(basket.explain, task_id)


class WorkerPages:
    """The worker endpoints of one dashboard (``create_app`` routes them)."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    async def _workers(self) -> list[WorkerInfo] | None:
        """The registered workers, or None if the backend keeps no registry (a bus)."""
        basket = self.dashboard.basket
        if not basket.backend.capabilities.worker_registry:
            return None
        return await run_in_threadpool(basket.workers)

    async def page(self, request: Request) -> Response:
        found = await self._workers()
        return self.dashboard.render(request, "workers.html", {
            "workers": found or [], "supported": found is not None, "mode": "workers"})

    async def api(self, request: Request) -> Response:
        found = await self._workers()
        return JSONResponse({"workers": [w.as_dict() for w in found or []],
                             "supported": found is not None})
