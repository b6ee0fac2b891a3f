"""The dashboard's Schedules page: the stored schedules, and forms to pause, resume,
trigger and delete one (POSTed with the session's CSRF token), plus its JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from taskbasket.schedules.spec import Schedule

if TYPE_CHECKING:
    from taskbasket.dashboard.views import Dashboard

ACTIONS = {"pause": "schedule_paused", "resume": "schedule_resumed",
           "trigger": "schedule_triggered", "delete": "schedule_deleted"}
"""Each action and the notice the page shows after it."""


class SchedulePages:
    """The schedule endpoints of one dashboard (``create_app`` routes them)."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    async def _schedules(self) -> list[Schedule] | None:
        """The stored schedules, or None if the backend cannot hold any (a bus)."""
        basket = self.dashboard.basket
        if not basket.backend.capabilities.schedules:
            return None
        return await run_in_threadpool(basket.schedules)

    async def page(self, request: Request) -> Response:
        found = await self._schedules()
        return self.dashboard.render(request, "schedules.html", {
            "schedules": found or [], "supported": found is not None,
            "mode": "schedules"})

    async def api(self, request: Request) -> Response:
        found = await self._schedules()
        return JSONResponse({"schedules": [s.as_dict() for s in found or []],
                             "supported": found is not None})

    async def action(self, request: Request) -> Response:
        _, action, name = await self.dashboard.named_action(request, ACTIONS, "schedule")
        basket = self.dashboard.basket
        method: Any = getattr(basket, f"{action}_schedule")
        try:
            await run_in_threadpool(method, name)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from None
        self.dashboard.sampler.invalidate()
        return RedirectResponse(
            self.dashboard.url(request, "/schedules", {"notice": ACTIONS[action]}), 303)
