"""The dashboard's pages, actions and JSON API, over the public ``Basket`` API.

Each view reads only what it shows: the overview reads grouped counts (the sampler's
newest reading when it is fresh) and, for its "unknown names" warning, counts per name;
the task list reads the page's rows without their arguments; only a task's own page
reads its arguments. The pages poll for changes just as cheaply: the overview polls the
counts, the list polls its rows (without arguments), a task's page polls that task's
version (without arguments). Store calls block, so they run in Starlette's thread pool.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from taskbasket.backends.base import redact_url
from taskbasket.basket import Basket
from taskbasket.dashboard.charts import charts
from taskbasket.dashboard.sampling import Sample, Sampler
from taskbasket.dashboard.security import CSRF_FIELD, csrf_valid
from taskbasket.dashboard.workers import explanation_of
from taskbasket.errors import ConfigurationError
from taskbasket.task import FINAL_STATES, State, Task, TaskList

HERE = Path(__file__).resolve().parent
DASHBOARD_CANCEL_REASON = "cancelled from the dashboard"
"""The reason (``last_error``) of a task cancelled with the task page's button."""
RETRYABLE_STATES = frozenset({State.FAILED, State.CANCELLED, State.RETRYING, State.SCHEDULED})
PURGEABLE_STATES = (State.FAILED, State.CANCELLED, State.SUCCEEDED)
MAX_PAGE = 500

NOTICES = {
    "retried": "The task is queued to run again, from attempt zero.",
    "not_retried": "Nothing retried: only failed, cancelled, retrying and scheduled tasks "
                   "can be retried.",
    "cancelled": "The task is cancelled.",
    "not_cancelled": "Nothing cancelled: the task had finished already.",
    "deleted": "The task is deleted.",
    "not_deleted": "Nothing deleted: the task was gone already.",
    "purged": "Deleted {n} tasks.",
    "schedule_paused": "The schedule is paused: it fires nothing until it is resumed.",
    "schedule_resumed": "The schedule is resumed.",
    "schedule_triggered": "One run of the schedule is queued now.",
    "schedule_deleted": "The schedule is deleted (the tasks it started stay).",
    "workflow_cancelled": "Cancelled {n} unfinished tasks of the workflow.",
    "queue_paused": "The queue is paused: no worker takes its tasks until it is resumed.",
    "queue_resumed": "The queue is resumed.",
    "queue_limits": "The queue's limits are set (workers apply them within a second).",
}


# ---------------------------------------------------------------------- data as shown


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


def task_version(task: Task) -> str:
    """Changes whenever what the detail page shows of the task changes (leases aside).

    Arguments (and the history) change only with a change of state, so a version read
    without them equals one read with them.
    """
    progress = task.progress
    return _digest(task.state.value, task.attempts, task.run_at, task.started_at,
                   task.finished_at, task.last_error, task.queue, task.priority, task.snoozes,
                   None if progress is None else (progress.done, progress.note,
                                                  progress.updated_at))


def task_dict(task: Task) -> dict[str, Any]:
    """Every field of a task, times as ISO text, and its version."""
    data = {key: _iso(value) if isinstance(value, datetime) else value
            for key, value in task.as_dict().items()}
    data["history"] = [{key: _iso(value) if isinstance(value, datetime) else value
                        for key, value in entry.items()} for entry in task.as_dict()["history"]]
    data["version"] = task_version(task)
    return data


def row_dict(task: Task) -> dict[str, Any]:
    """A task as the list shows it: every field but its arguments (read without them)."""
    data = task_dict(task)
    for key in ("args", "kwargs", "payload_error", "history"):
        del data[key]
    return data


def list_version(tasks: Sequence[Task]) -> str:
    return _digest(*(f"{t.id}:{task_version(t)}" for t in tasks))


def _next_before(page: TaskList, limit: int) -> str | None:
    """The cursor of the next page: the id of this page's last row, readable or not, if
    the page is full."""
    return page.last_id if len(page) + len(page.corrupt) >= limit else None


def overview_dict(sample: Sample, history: Sequence[Sample], window: float) -> dict[str, Any]:
    queues = sorted({queue for queue, _ in sample.stats})
    totals = sample.totals
    return {
        "read_at": datetime.fromtimestamp(sample.at, UTC).isoformat(),
        "states": [s.value for s in State],
        "queues": [
            {"queue": q, "counts": {s.value: sample.stats.get((q, s), 0) for s in State},
             "total": sum(sample.stats.get((q, s), 0) for s in State)}
            for q in queues
        ],
        "totals": {s.value: totals[s] for s in State},
        "total": sum(totals.values()),
        "queues_version": _digest(*queues),
        "charts": charts(history, window),
    }


@dataclass(frozen=True)
class Filters:
    """The task list's filters and page size, parsed from a query string."""

    state: State | None = None
    queue: str | None = None
    name: str | None = None
    before: str | None = None
    limit: int = 50

    @classmethod
    def parse(cls, request: Request) -> Filters:
        params = request.query_params

        def text(key: str) -> str | None:
            value = params.get(key, "").strip()
            return value or None

        state = text("state")
        if state is not None and state not in {s.value for s in State}:
            raise ConfigurationError(
                f"unknown state {state!r}; states are {', '.join(s.value for s in State)}"
            )
        try:
            limit = int(params.get("limit", "50"))
        except ValueError:
            raise ConfigurationError("limit must be a whole number") from None
        if not 1 <= limit <= MAX_PAGE:
            raise ConfigurationError(f"limit must be between 1 and {MAX_PAGE}")
        return cls(State(state) if state else None, text("queue"), text("name"),
                   text("before"), limit)

    def query(self, **changes: Any) -> dict[str, str]:
        values = {"state": self.state.value if self.state else None, "queue": self.queue,
                  "name": self.name, "before": self.before,
                  "limit": None if self.limit == 50 else str(self.limit)}
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v}


def _error_summary(text: str | None) -> str:
    """A traceback in one line: its exception and message, then any ``[note]`` after it."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    notes: list[str] = []
    while lines and lines[-1].startswith("[") and lines[-1].endswith("]"):
        notes.insert(0, lines.pop())
    return " ".join(lines[-1:] + notes)


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    env.filters["error_summary"] = _error_summary
    return Jinja2Templates(env=env)


def _wants_json(request: Request) -> bool:
    prefix = request.scope.get("root_path", "")
    return request.url.path.startswith(f"{prefix}/api/")


def _purge_selection(values: Mapping[str, Any]) -> tuple[str, State]:
    queue = values.get("queue")
    state = values.get("state") or State.FAILED.value
    if not isinstance(queue, str) or not queue:
        raise ConfigurationError("say which queue to purge (queue=...)")
    if state not in {s.value for s in PURGEABLE_STATES}:
        raise ConfigurationError(
            f"the dashboard purges only {', '.join(s.value for s in PURGEABLE_STATES)} "
            "tasks; use `taskbasket purge` for others")
    return queue, State(state)


# ---------------------------------------------------------------------- endpoints


class Dashboard:
    """The dashboard's state and its endpoints; ``create_app`` wires them into Starlette."""

    def __init__(
        self, basket: Basket, *, sample_interval: float, history: int,
        refresh_seconds: float,
    ) -> None:
        if refresh_seconds <= 0:
            raise ConfigurationError("refresh_seconds must be > 0")
        self.basket = basket
        self.templates = _templates()
        self.sampler = Sampler(basket, sample_interval, history)
        self.window = sample_interval * history
        self.refresh_seconds = refresh_seconds
        # a reading younger than this is reused by the overview instead of a new query
        self.fresh_for = min(refresh_seconds, sample_interval) * 0.9

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def url(request: Request, path: str, query: Mapping[str, str] | None = None) -> str:
        prefix = str(request.scope.get("root_path", ""))
        return prefix + path + (f"?{urlencode(query)}" if query else "")

    def render(self, request: Request, name: str, context: Mapping[str, Any],
               status_code: int = 200) -> Response:
        notice = request.query_params.get("notice", "")
        message = NOTICES.get(notice)
        if message is not None:
            count = request.query_params.get("n", "0")
            message = message.format(n=int(count) if count.isdigit() else 0)

        def url(path: str, **query: Any) -> str:
            return self.url(request, path, {k: str(v) for k, v in query.items()
                                            if v is not None and v != ""})

        base = {
            "csrf_field": CSRF_FIELD, "csrf": getattr(request.state, "csrf", ""),
            "notice": message, "url": url, "quote": lambda v: quote(str(v), safe=""),
            "refresh_ms": int(self.refresh_seconds * 1000), "states": list(State),
            "final_states": FINAL_STATES, "retryable_states": RETRYABLE_STATES,
            "known_names": set(self.basket.registry),
            "store_url": redact_url(self.basket.url),
            "poll": None, "version": "", "mode": "",
        }
        base.update(context)
        return self.templates.TemplateResponse(request, name, base, status_code=status_code)

    def error(self, request: Request, status: int, message: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": message}, status_code=status)
        return self.render(request, "error.html", {"status": status, "message": message},
                           status_code=status)

    async def current_sample(self) -> Sample:
        return await run_in_threadpool(self.sampler.current, self.fresh_for)

    async def list_rows(self, filters: Filters) -> TaskList:
        """The page of tasks the filters select, without their arguments (``.corrupt``:
        the page's stored tasks that cannot be read)."""
        basket = self.basket
        return await run_in_threadpool(
            lambda: basket.list(filters.state, queue=filters.queue, name=filters.name,
                                limit=filters.limit, before=filters.before,
                                with_arguments=False)
        )

    async def get_task(self, request: Request, *, with_arguments: bool = True) -> Task:
        task_id = request.path_params["task_id"]
        basket = self.basket
        task = await run_in_threadpool(
            lambda: basket.get(task_id, with_arguments=with_arguments))
        if task is None:
            raise HTTPException(404, f"There is no task with id {task_id} (any more).")
        return task

    @staticmethod
    async def checked_form(request: Request) -> Mapping[str, Any]:
        """The POSTed form, if its CSRF field is the token of this session; else 403."""
        form = await request.form()
        if not csrf_valid(request, form.get(CSRF_FIELD)):
            raise HTTPException(403, "The form's CSRF token is missing or stale: reload the "
                                     "page and try again.")
        return form

    async def named_action(self, request: Request, actions: Mapping[str, str],
                           what: str) -> tuple[Mapping[str, Any], str, str]:
        """The checked form, the action (one of ``actions``, else 404) and the ``name`` of
        the ``what`` it acts on (else 400) of a POSTed action on a named thing."""
        form = await self.checked_form(request)
        action = request.path_params["action"]
        if action not in actions:
            raise HTTPException(404, f"Unknown action {action!r}.")
        name = form.get("name")
        if not isinstance(name, str) or not name:
            raise HTTPException(400, f"Say which {what} (name=...).")
        return form, action, name

    # ------------------------------------------------------------------ pages

    async def overview(self, request: Request) -> Response:
        sample = await self.current_sample()
        data = overview_dict(sample, self.sampler.history(), self.window)
        unknown: dict[str, int] = {}
        if self.basket.registry:
            unknown = await run_in_threadpool(self.basket.unknown_names)
        return self.render(request, "overview.html", {
            "data": data, "unknown": unknown, "purgeable": PURGEABLE_STATES,
            "poll": self.url(request, "/api/overview"), "mode": "overview",
            "version": data["queues_version"],
        })

    async def tasks(self, request: Request) -> Response:
        filters = Filters.parse(request)
        found = await self.list_rows(filters)
        basket = self.basket
        matching = await run_in_threadpool(
            lambda: basket.count(filters.state, queue=filters.queue, name=filters.name))
        sample = await self.current_sample()
        queues = {q for q, _ in sample.stats}
        if filters.queue:
            queues.add(filters.queue)
        more = _next_before(found, filters.limit)
        return self.render(request, "tasks.html", {
            "tasks": found, "filters": filters, "matching": matching,
            "queues": sorted(queues),
            "next_query": filters.query(before=more) if more else None,
            "newest_query": filters.query(before=None) if filters.before else None,
            "poll": self.url(request, "/api/tasks", filters.query()), "mode": "reload",
            "version": list_version(found),
        })

    async def task(self, request: Request) -> Response:
        task = await self.get_task(request)
        return self.render(request, "task.html", {
            "task": task, "version": task_version(task), "mode": "reload",
            "explanation": await explanation_of(self.basket, task.id),
            "poll": self.url(request, f"/api/tasks/{quote(task.id, safe='')}/version"),
        })

    async def purge_page(self, request: Request) -> Response:
        queue, state = _purge_selection(request.query_params)
        basket = self.basket
        matching = await run_in_threadpool(lambda: basket.count(state, queue=queue))
        return self.render(request, "purge.html", {"queue": queue, "state": state,
                                                   "matching": matching})

    # ------------------------------------------------------------------ actions (POST)

    async def task_action(self, request: Request) -> Response:
        await self.checked_form(request)
        task_id = request.path_params["task_id"]
        action = request.path_params["action"]
        operations: dict[str, Callable[[str], int]] = {
            "retry": self.basket.retry, "cancel": self._cancel,
            "delete": self.basket.delete,
        }
        if action not in operations:
            raise HTTPException(404, f"Unknown action {action!r}.")
        changed = await run_in_threadpool(operations[action], task_id)
        self.sampler.invalidate()
        done = {"retry": "retried", "cancel": "cancelled", "delete": "deleted"}[action]
        notice = done if changed else f"not_{done}"
        if action == "delete" and changed:
            return RedirectResponse(self.url(request, "/tasks", {"notice": notice}), 303)
        return RedirectResponse(self.url(
            request, f"/tasks/{quote(task_id, safe='')}", {"notice": notice}), 303)

    def _cancel(self, task_id: str) -> int:
        """Cancel from the dashboard: a running task's attempt is stopped where it runs."""
        return self.basket.cancel(task_id, reason=DASHBOARD_CANCEL_REASON)

    async def purge(self, request: Request) -> Response:
        form = await self.checked_form(request)
        queue, state = _purge_selection(form)
        basket = self.basket
        deleted = await run_in_threadpool(lambda: basket.purge(state, queue=queue))
        self.sampler.invalidate()
        return RedirectResponse(
            self.url(request, "/", {"notice": "purged", "n": str(deleted)}), 303)

    # ------------------------------------------------------------------ JSON API

    async def api_overview(self, request: Request) -> Response:
        sample = await self.current_sample()
        return JSONResponse(overview_dict(sample, self.sampler.history(), self.window))

    async def api_tasks(self, request: Request) -> Response:
        """The list's rows, without arguments (``/api/tasks/{id}`` has them)."""
        filters = Filters.parse(request)
        found = await self.list_rows(filters)
        return JSONResponse({
            "tasks": [row_dict(t) for t in found],
            "next_before": _next_before(found, filters.limit),
            "version": list_version(found),
        })

    async def api_task(self, request: Request) -> Response:
        return JSONResponse(task_dict(await self.get_task(request)))

    async def api_task_version(self, request: Request) -> Response:
        """What a task's page polls: its state and version, read without its arguments."""
        task = await self.get_task(request, with_arguments=False)
        return JSONResponse({"id": task.id, "state": task.state.value,
                             "version": task_version(task)})

    # ------------------------------------------------------------------ errors

    async def on_http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return self.error(request, exc.status_code, str(exc.detail))

    async def on_store_error(self, request: Request, exc: Exception) -> Response:
        status = 400 if isinstance(exc, ValueError) else 503
        return self.error(request, status, str(exc))
