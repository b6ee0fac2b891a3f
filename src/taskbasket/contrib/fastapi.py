"""The dashboard inside a FastAPI (or Starlette) app, behind the app's own authentication.

``app.include_router(dashboard_router(basket), prefix="/tasks",
dependencies=[Depends(require_admin)])`` serves the dashboard under ``/tasks``: FastAPI
runs your dependency for every request to it, as for any route, and only a request it
lets through reaches the dashboard (which keeps its own CSRF checks). ``options`` go to
``taskbasket.dashboard.create_app`` (``refresh_seconds``, ``sample_interval``...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from taskbasket.contrib.asgi import MountedDashboard

if TYPE_CHECKING:
    from taskbasket.basket import Basket

METHODS = ["GET", "HEAD", "POST"]

__all__ = ["dashboard_router"]


def dashboard_router(basket: Basket, **options: Any) -> APIRouter:
    """A router that answers every path under its prefix from the dashboard of ``basket``;
    put your auth dependency on ``include_router(..., dependencies=[...])``."""
    dashboard = MountedDashboard(basket, **options)
    router = APIRouter(include_in_schema=False)

    async def forward(request: Request, path: str = "") -> Response:
        full_path = str(request.scope["path"])
        root_path = full_path[: len(full_path) - len(path)].rstrip("/")
        if not path and not full_path.endswith("/"):
            query = request.url.query
            return RedirectResponse(full_path + "/" + (f"?{query}" if query else ""), 307)
        client = request.client
        answer = await dashboard.handle(
            method=request.method, root_path=root_path, path=full_path,
            query_string=request.url.query.encode("latin-1"),
            headers=list(request.headers.raw), body=await request.body(),
            scheme=request.url.scheme, client=(client.host, client.port) if client else None,
            server=request.scope.get("server"),
        )
        response = Response(answer.body, status_code=answer.status)
        del response.headers["content-length"]
        for name, value in answer.headers:
            response.headers.append(name, value)
        return response

    router.add_api_route("", forward, methods=METHODS)
    router.add_api_route("/{path:path}", forward, methods=METHODS)
    return router
