"""The dashboard's Queues page: each queue's pause and limits with its task counts, and
forms to pause, resume and set limits (POSTed with the session's CSRF token), plus JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from taskbasket.errors import ConfigurationError
from taskbasket.flow import QueueInfo

if TYPE_CHECKING:
    from taskbasket.dashboard.views import Dashboard

ACTIONS = {"pause": "queue_paused", "resume": "queue_resumed", "limits": "queue_limits"}
"""Each action and the notice the page shows after it."""


def _limit(form: Any, field: str) -> str | None:
    """A limit from the form: empty or ``none`` lifts it."""
    value = form.get(field)
    if not isinstance(value, str) or value.strip().lower() in ("", "none"):
        return None
    return value.strip()


class QueuePages:
    """The queue endpoints of one dashboard (``create_app`` routes them)."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    @property
    def supported(self) -> bool:
        return self.dashboard.basket.backend.capabilities.flow_control

    async def _queues(self) -> list[QueueInfo]:
        return await run_in_threadpool(self.dashboard.basket.queues)

    async def page(self, request: Request) -> Response:
        return self.dashboard.render(request, "queues.html", {
            "queues": await self._queues(), "supported": self.supported, "mode": "queues"})

    async def api(self, request: Request) -> Response:
        return JSONResponse({"queues": [q.as_dict() for q in await self._queues()],
                             "supported": self.supported})

    async def action(self, request: Request) -> Response:
        form, action, name = await self.dashboard.named_action(request, ACTIONS, "queue")
        basket = self.dashboard.basket
        try:
            if action == "limits":
                concurrency = _limit(form, "concurrency")
                await run_in_threadpool(
                    lambda: basket.configure_queue(
                        name, rate_limit=_limit(form, "rate_limit"),
                        concurrency=None if concurrency is None else _whole(concurrency)))
            else:
                await run_in_threadpool(getattr(basket, f"{action}_queue"), name)
        except ConfigurationError as exc:
            raise HTTPException(400, str(exc)) from None
        self.dashboard.sampler.invalidate()
        return RedirectResponse(
            self.dashboard.url(request, "/queues", {"notice": ACTIONS[action]}), 303)


def _whole(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(
            f"concurrency must be a whole number of at least 1, or empty for no limit; got "
            f"{value!r}") from None
