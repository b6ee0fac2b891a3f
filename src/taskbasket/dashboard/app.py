"""The dashboard's Starlette application: its routes, guards and sampler, wired together.

The jobs live in their own modules: ``security`` (who may ask: host and client checks,
authentication, CSRF, headers), ``sampling`` (the thread that reads the store's counts),
``charts`` (samples drawn as SVG) and ``views`` (pages, actions and the JSON API).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from taskbasket.basket import Basket
from taskbasket.dashboard.charts import charts
from taskbasket.dashboard.queues import QueuePages
from taskbasket.dashboard.sampling import Sample, Sampler
from taskbasket.dashboard.schedules import SchedulePages
from taskbasket.dashboard.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    Auth,
    Guard,
    check_auth_options,
    check_bind,
    check_unauthenticated,
    is_loopback,
    redact_token,
)
from taskbasket.dashboard.views import HERE, Dashboard
from taskbasket.dashboard.workers import WorkerPages
from taskbasket.dashboard.workflows import WorkflowPages
from taskbasket.errors import TaskbasketError

__all__ = [
    "CSRF_COOKIE", "CSRF_FIELD", "SESSION_COOKIE", "Dashboard", "Sample", "Sampler", "charts",
    "check_bind", "create_app", "is_loopback", "serve",
]


class _StartSampler:
    """Starts the sampler at the first request: the lifespan of an app mounted in another
    never runs (Starlette and FastAPI run only the outer app's), so nothing else would."""

    def __init__(self, app: ASGIApp, sampler: Sampler) -> None:
        self.app = app
        self.sampler = sampler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.sampler.start()
        await self.app(scope, receive, send)


def create_app(
    basket: Basket,
    *,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
    allow_unauthenticated: bool = False,
    sample_interval: float = 5.0,
    history: int = 720,
    refresh_seconds: float = 3.0,
) -> Starlette:
    """The dashboard of ``basket`` as a Starlette application.

    With ``token`` (or ``username`` and ``password``) every request must authenticate.
    Without either it refuses to start unless ``allow_unauthenticated=True``, and then
    answers only clients on this machine (a loopback address) that name it by a loopback
    ``Host``; ``allowed_hosts`` overrides that host list (``["*"]`` for any). Behind a
    reverse proxy every client is loopback: configure a token there.

    The overview keeps ``history`` samples taken every ``sample_interval`` seconds by a
    thread that starts with the app's lifespan or its first request, whichever comes
    first (mounted in another app, only the latter), and stops with the lifespan; pages
    poll for changes every ``refresh_seconds``.
    """
    check_auth_options(token, username, password)
    auth = Auth(token, username, password,
                frozenset(h.lower() for h in allowed_hosts) if allowed_hosts else None)
    check_unauthenticated(auth.required, allow_unauthenticated)
    d = Dashboard(basket, sample_interval=sample_interval, history=history,
                  refresh_seconds=refresh_seconds)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        d.sampler.start()
        try:
            yield
        finally:
            await run_in_threadpool(d.sampler.stop)

    schedules = SchedulePages(d)
    workflows = WorkflowPages(d)
    queues = QueuePages(d)
    workers = WorkerPages(d)
    app = Starlette(
        routes=[
            Route("/", d.overview, methods=["GET"], name="overview"),
            Route("/tasks", d.tasks, methods=["GET"], name="tasks"),
            Route("/tasks/{task_id}", d.task, methods=["GET"], name="task"),
            Route("/tasks/{task_id}/{action}", d.task_action, methods=["POST"],
                  name="task_action"),
            Route("/purge", d.purge_page, methods=["GET"], name="purge_page"),
            Route("/purge", d.purge, methods=["POST"], name="purge"),
            Route("/schedules", schedules.page, methods=["GET"], name="schedules"),
            Route("/schedules/{action}", schedules.action, methods=["POST"],
                  name="schedule_action"),
            Route("/api/schedules", schedules.api, methods=["GET"], name="api_schedules"),
            Route("/workflows/{workflow_id}", workflows.page, methods=["GET"],
                  name="workflow"),
            Route("/workflows/{workflow_id}/cancel", workflows.cancel, methods=["POST"],
                  name="workflow_cancel"),
            Route("/api/workflows/{workflow_id}", workflows.api, methods=["GET"],
                  name="api_workflow"),
            Route("/queues", queues.page, methods=["GET"], name="queues"),
            Route("/queues/{action}", queues.action, methods=["POST"], name="queue_action"),
            Route("/api/queues", queues.api, methods=["GET"], name="api_queues"),
            Route("/workers", workers.page, methods=["GET"], name="workers"),
            Route("/api/workers", workers.api, methods=["GET"], name="api_workers"),
            Route("/api/overview", d.api_overview, methods=["GET"], name="api_overview"),
            Route("/api/tasks", d.api_tasks, methods=["GET"], name="api_tasks"),
            Route("/api/tasks/{task_id}", d.api_task, methods=["GET"], name="api_task"),
            Route("/api/tasks/{task_id}/version", d.api_task_version, methods=["GET"],
                  name="api_task_version"),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[
            Middleware(_StartSampler, sampler=d.sampler),
            Middleware(Guard, auth=auth, error_page=d.error),
        ],
        exception_handlers={
            HTTPException: d.on_http_error,
            TaskbasketError: d.on_store_error,
            ValueError: d.on_store_error,
        },
        lifespan=lifespan,
    )
    app.state.dashboard = d
    return app


def serve(
    basket: Basket,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    log_level: str = "info",
    **app_options: Any,
) -> None:
    """Serve the dashboard with uvicorn until interrupted.

    A host other than loopback is refused unless a token or basic auth is configured;
    on loopback without either, the dashboard answers clients of this machine only.
    """
    check_bind(host, token=token, username=username, password=password)
    import uvicorn

    app_options.setdefault("allow_unauthenticated", token is None and username is None)
    app = create_app(basket, token=token, username=username, password=password,
                     **app_options)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level)
    logging.getLogger("uvicorn.access").addFilter(redact_token)  # after uvicorn's config
    uvicorn.Server(config).run()
