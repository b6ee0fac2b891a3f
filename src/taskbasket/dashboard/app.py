"""The dashboard's Starlette application: pages, JSON API, actions, and their guards.

It uses only the public ``Basket`` API, so it works on every store. Store calls block, so
they run in Starlette's thread pool. A sampler thread (run by the app's lifespan) reads
``basket.stats()`` every ``sample_interval`` seconds into a bounded ring; the overview's
charts are drawn from that ring as inline SVG, and its counts reuse the newest sample
when it is fresh enough, so many open browser tabs cost the store little.

Security, in one place (``_Guard``): loopback-only ``Host`` headers when no
authentication is configured (against DNS rebinding); a bearer token, a ``?token=`` that
becomes a cookie, or HTTP basic auth when it is; a per-session CSRF token (a cookie plus
a hidden form field, compared in constant time) and a same-origin check on every POST;
GET never changes anything; a strict Content-Security-Policy; Jinja2 autoescaping on
every template.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import itertools
import json
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp

from taskbasket.backends.base import redact_url
from taskbasket.basket import Basket
from taskbasket.errors import ConfigurationError, TaskbasketError
from taskbasket.task import FINAL_STATES, State, Task

log = logging.getLogger("taskbasket.dashboard")

HERE = Path(__file__).resolve().parent
_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&]*")
CSRF_COOKIE = "taskbasket_csrf"
SESSION_COOKIE = "taskbasket_session"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})
RETRYABLE_STATES = frozenset({State.FAILED, State.CANCELLED, State.RETRYING, State.SCHEDULED})
PURGEABLE_STATES = (State.FAILED, State.CANCELLED, State.SUCCEEDED)
PENDING = (State.QUEUED, State.SCHEDULED, State.RETRYING)
MAX_PAGE = 500
CHART_WIDTH = 600
CHART_HEIGHT = 120

NOTICES = {
    "retried": "The task is queued to run again, from attempt zero.",
    "not_retried": "Nothing retried: only failed, cancelled, retrying and scheduled tasks "
                   "can be retried.",
    "cancelled": "The task is cancelled.",
    "not_cancelled": "Nothing cancelled: the task had finished already.",
    "deleted": "The task is deleted.",
    "not_deleted": "Nothing deleted: the task was gone already.",
    "purged": "Deleted {n} tasks.",
}


# ---------------------------------------------------------------------- bind check


def is_loopback(host: str) -> bool:
    """True for a name or address that only this machine can reach."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_auth_options(
    token: str | None, username: str | None, password: str | None
) -> None:
    if token is not None and not token:
        raise ConfigurationError("the dashboard token is empty; pass a long random string")
    if (username is None) != (password is None) or username == "" or password == "":
        raise ConfigurationError(
            "basic auth needs both a user name and a password (--basic-auth user:pass)"
        )


def check_bind(
    host: str, *, token: str | None = None, username: str | None = None,
    password: str | None = None,
) -> None:
    """Refuse to expose an unauthenticated dashboard beyond this machine."""
    check_auth_options(token, username, password)
    if not is_loopback(host) and token is None and username is None:
        raise ConfigurationError(
            f"refusing to serve the dashboard on {host!r} without authentication: anyone "
            "who can reach it could retry, cancel and delete tasks. Configure a token "
            "(--token T, or token=...) or basic auth (--basic-auth user:pass, or "
            "username=/password=), or bind to 127.0.0.1"
        )


# ---------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class Sample:
    """Task counts per (queue, state) at one moment (``at``: Unix time)."""

    at: float
    stats: Mapping[tuple[str, State], int]

    @property
    def totals(self) -> dict[State, int]:
        totals = dict.fromkeys(State, 0)
        for (_, state), count in self.stats.items():
            totals[state] += count
        return totals


class Sampler:
    """A bounded ring of ``Sample``s, filled every ``interval`` seconds by a thread.

    ``current(max_age)`` returns the newest reading if it is at most ``max_age`` old and
    reads the store otherwise (such on-demand readings are not added to the ring, so the
    ring stays evenly spaced).
    """

    def __init__(
        self, basket: Basket, interval: float = 5.0, size: int = 720,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval <= 0 or size < 2:
            raise ConfigurationError("sample_interval must be > 0 and history >= 2")
        self.basket = basket
        self.interval = interval
        self.size = size
        self._clock = clock
        self._lock = threading.Lock()
        self._ring: deque[Sample] = deque(maxlen=size)
        self._newest: Sample | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read(self) -> Sample:
        return Sample(self._clock(), dict(self.basket.stats()))

    def sample_once(self) -> Sample:
        sample = self._read()
        with self._lock:
            self._ring.append(sample)
            self._newest = sample
        return sample

    def current(self, max_age: float) -> Sample:
        with self._lock:
            newest = self._newest
        if newest is not None and self._clock() - newest.at <= max_age:
            return newest
        sample = self._read()
        with self._lock:
            if self._newest is None or self._newest.at < sample.at:
                self._newest = sample
        return sample

    def invalidate(self) -> None:
        """Forget the newest reading, so that the next ``current`` reads the store."""
        with self._lock:
            self._newest = None

    def history(self) -> list[Sample]:
        with self._lock:
            return list(self._ring)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="taskbasket-dashboard-sampler", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while True:
            try:
                self.sample_once()
            except Exception as exc:
                log.warning("dashboard sampler cannot read %s: %s", self.basket.url, exc)
            if self._stop.wait(self.interval):
                return


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is >= value (at least 1)."""
    if value <= 1:
        return 1.0
    scale = 10.0 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if step * scale >= value:
            return step * scale
    return 10 * scale  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _rates(samples: Sequence[Sample], state: State) -> list[tuple[float, float]]:
    """Per-second growth of a state's count between consecutive samples (never below 0).

    Derived from counts, so it undercounts when tasks leave the state between two samples
    (a failed task retried, finished tasks cleaned): the dashboard shows a trend, not an
    audit.
    """
    points = []
    for previous, current in itertools.pairwise(samples):
        elapsed = current.at - previous.at
        if elapsed > 0:
            grown = current.totals[state] - previous.totals[state]
            points.append((current.at, max(0, grown) / elapsed))
    return points


def _chart(
    key: str, title: str, unit: str, series: Sequence[tuple[str, list[tuple[float, float]]]],
    start: float, end: float,
) -> dict[str, Any]:
    top = _nice_ceiling(max((v for _, pts in series for _, v in pts), default=0.0))
    width = max(end - start, 1e-9)
    drawn = []
    for name, points in series:
        coords = " ".join(
            f"{(t - start) / width * CHART_WIDTH:.1f},"
            f"{CHART_HEIGHT - v / top * CHART_HEIGHT:.1f}"
            for t, v in points if t >= start
        )
        last = points[-1][1] if points else 0.0
        drawn.append({"key": name, "points": coords, "last": f"{_number(last)}{unit}"})
    return {
        "key": key, "title": title, "top": f"{_number(top)}{unit}",
        "span": f"last {_span(end - start)}" if end > start else "collecting samples…",
        "series": drawn,
    }


def charts(history: Sequence[Sample], window: float) -> list[dict[str, Any]]:
    """The overview's two charts: finishes per second, and tasks waiting or running."""
    end = history[-1].at if history else 0.0
    start = max(history[0].at, end - window) if history else 0.0
    samples = [s for s in history if s.at >= start]
    return [
        _chart("finished", "Finished per second", "/s", [
            (State.SUCCEEDED.value, _rates(samples, State.SUCCEEDED)),
            (State.FAILED.value, _rates(samples, State.FAILED)),
        ], start, end),
        _chart("backlog", "Waiting and running", "", [
            ("waiting", [(s.at, float(sum(s.totals[p] for p in PENDING))) for s in samples]),
            (State.RUNNING.value, [(s.at, float(s.totals[State.RUNNING])) for s in samples]),
        ], start, end),
    ]


# ---------------------------------------------------------------------- views of data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


def task_version(task: Task) -> str:
    """Changes whenever what the detail page shows of the task changes (leases aside)."""
    return _digest(task.state.value, task.attempts, task.run_at, task.started_at,
                   task.finished_at, task.last_error)


def task_dict(task: Task) -> dict[str, Any]:
    data = {key: _iso(value) if isinstance(value, datetime) else value
            for key, value in task.as_dict().items()}
    data["version"] = task_version(task)
    return data


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


# ---------------------------------------------------------------------- security


@dataclass(frozen=True)
class Auth:
    token: str | None = None
    username: str | None = None
    password: str | None = None
    allowed_hosts: frozenset[str] | None = None
    session_value: str = field(init=False)

    def __post_init__(self) -> None:
        # The cookie holds a digest of the token, not the token itself.
        digest = hmac.new((self.token or "").encode(), b"taskbasket dashboard session",
                          hashlib.sha256).hexdigest()
        object.__setattr__(self, "session_value", digest)

    @property
    def required(self) -> bool:
        return self.token is not None or self.username is not None

    def host_allowed(self, request: Request) -> bool:
        host = request.headers.get("host")
        if host is None:
            return True
        name = urlsplit(f"//{host}").hostname or ""
        if self.allowed_hosts is not None:
            return name in self.allowed_hosts or "*" in self.allowed_hosts
        return self.required or is_loopback(name)

    def token_matches(self, candidate: str) -> bool:
        return self.token is not None and _equal(candidate, self.token)

    def authenticated(self, request: Request) -> bool:
        if not self.required:
            return True
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and self.token_matches(credentials.strip()):
            return True
        if scheme == "basic" and self.username is not None and self.password is not None:
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, _, password = decoded.partition(":")
            user_ok = _equal(user, self.username)
            password_ok = _equal(password, self.password)
            return user_ok and password_ok
        cookie = request.cookies.get(SESSION_COOKIE)
        return self.token is not None and cookie is not None and _equal(
            cookie, self.session_value)


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _wants_json(request: Request) -> bool:
    prefix = request.scope.get("root_path", "")
    return request.url.path.startswith(f"{prefix}/api/")


def _security_headers(response: Response, request: Request) -> None:
    headers = response.headers
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if "/static/" not in request.url.path:
        headers.setdefault("Cache-Control", "no-store")


class _Guard(BaseHTTPMiddleware):
    """Host check, authentication, the CSRF cookie, and security headers."""

    def __init__(self, app: ASGIApp, auth: Auth, dashboard: Dashboard) -> None:
        super().__init__(app)
        self.auth = auth
        self.dashboard = dashboard

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await self._dispatch(request, call_next)
        _security_headers(response, request)
        return response

    async def _dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        auth = self.auth
        if not auth.host_allowed(request):
            return self._error(request, 400, "This Host header is not allowed. The dashboard "
                               "answers to localhost only unless authentication is "
                               "configured.")
        https = request.url.scheme == "https"
        token = request.query_params.get("token")
        if auth.required and token is not None and request.method in SAFE_METHODS:
            if not auth.token_matches(token):
                return self._unauthorized(request, "That token is wrong.")
            # The token moves into a cookie and out of the address bar and history.
            query = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(query)}" if query else "")
            redirect = RedirectResponse(target, status_code=303)
            redirect.set_cookie(SESSION_COOKIE, auth.session_value, httponly=True,
                                samesite="lax", secure=https)
            return redirect
        if not auth.authenticated(request):
            return self._unauthorized(request, "This dashboard needs authentication.")
        csrf = request.cookies.get(CSRF_COOKIE, "")
        fresh = len(csrf) < 32
        if fresh:
            csrf = secrets.token_urlsafe(32)
        request.state.csrf = csrf
        if request.method not in SAFE_METHODS and not _same_origin(request):
            return self._error(request, 403, "Cross-origin request refused: its Origin "
                               "does not name this host (behind a proxy, pass the Host "
                               "header through or set X-Forwarded-Host).")
        response = await call_next(request)
        if fresh:
            response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="lax", secure=https)
        return response

    def _unauthorized(self, request: Request, message: str) -> Response:
        hint = ("Open it once with ?token=YOUR_TOKEN in the address, or send "
                "'Authorization: Bearer YOUR_TOKEN'." if self.auth.token else "")
        response = self._error(request, 401, f"{message} {hint}".strip())
        if self.auth.username is not None:
            response.headers["WWW-Authenticate"] = 'Basic realm="taskbasket", charset="UTF-8"'
        return response

    def _error(self, request: Request, status: int, message: str) -> Response:
        return self.dashboard.error(request, status, message)


def _same_origin(request: Request) -> bool:
    """A POST's Origin (or Referer) header, where the browser sent one, names this host.

    Behind a proxy that rewrites ``Host``, the proxy's ``X-Forwarded-Host`` counts too (a
    cross-site form cannot set that header).
    """
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source is None
    origin = urlsplit(source).netloc.lower()
    hosts = {request.headers.get("host", "").lower()}
    hosts |= {h.strip().lower() for h in request.headers.get("x-forwarded-host", "").split(",")}
    return origin in hosts - {""}


# ---------------------------------------------------------------------- the application


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

    async def list_tasks(self, filters: Filters) -> list[Task]:
        basket = self.basket
        return await run_in_threadpool(
            lambda: basket.list(filters.state, queue=filters.queue, name=filters.name,
                                limit=filters.limit, before=filters.before)
        )

    async def get_task(self, request: Request) -> Task:
        task_id = request.path_params["task_id"]
        task = await run_in_threadpool(self.basket.get, task_id)
        if task is None:
            raise HTTPException(404, f"There is no task with id {task_id} (any more).")
        return task

    @staticmethod
    async def checked_form(request: Request) -> Mapping[str, Any]:
        """The POSTed form, if its CSRF field matches the session's cookie; else 403."""
        form = await request.form()
        sent = form.get(CSRF_FIELD)
        cookie = request.cookies.get(CSRF_COOKIE)
        if not isinstance(sent, str) or not cookie or not _equal(sent, cookie):
            raise HTTPException(403, "The form's CSRF token is missing or stale: reload the "
                                     "page and try again.")
        return form

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
        found = await self.list_tasks(filters)
        basket = self.basket
        matching = await run_in_threadpool(
            lambda: basket.count(filters.state, queue=filters.queue, name=filters.name))
        sample = await self.current_sample()
        queues = {q for q, _ in sample.stats}
        if filters.queue:
            queues.add(filters.queue)
        more = found[-1].id if len(found) == filters.limit else None
        return self.render(request, "tasks.html", {
            "tasks": found, "filters": filters, "matching": matching,
            "queues": sorted(queues),
            "next_query": filters.query(before=more) if more else None,
            "newest_query": filters.query(before=None) if filters.before else None,
            "poll": self.url(request, "/api/tasks", filters.query()), "mode": "reload",
            "version": _list_version(found),
        })

    async def task(self, request: Request) -> Response:
        task = await self.get_task(request)
        return self.render(request, "task.html", {
            "task": task, "version": task_version(task), "mode": "reload",
            "poll": self.url(request, f"/api/tasks/{quote(task.id, safe='')}"),
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
            "retry": self.basket.retry, "cancel": self.basket.cancel,
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
        filters = Filters.parse(request)
        found = await self.list_tasks(filters)
        return JSONResponse({
            "tasks": [task_dict(t) for t in found],
            "next_before": found[-1].id if len(found) == filters.limit else None,
            "version": _list_version(found),
        })

    async def api_task(self, request: Request) -> Response:
        return JSONResponse(task_dict(await self.get_task(request)))

    # ------------------------------------------------------------------ errors

    async def on_http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return self.error(request, exc.status_code, str(exc.detail))

    async def on_store_error(self, request: Request, exc: Exception) -> Response:
        status = 400 if isinstance(exc, ValueError) else 503
        return self.error(request, status, str(exc))


def _list_version(tasks: Sequence[Task]) -> str:
    return _digest(*(f"{t.id}:{task_version(t)}" for t in tasks))


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


def create_app(
    basket: Basket,
    *,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
    sample_interval: float = 5.0,
    history: int = 720,
    refresh_seconds: float = 3.0,
) -> Starlette:
    """The dashboard of ``basket`` as a Starlette application.

    With ``token`` (or ``username`` and ``password``) every request must authenticate;
    without, only ``Host`` headers naming this machine are answered. ``allowed_hosts``
    overrides that host list (``["*"]`` for any). The overview keeps ``history`` samples
    taken every ``sample_interval`` seconds by a thread that the app's lifespan starts
    and stops (uvicorn runs it; ``with TestClient(app)`` too); pages poll their JSON every
    ``refresh_seconds``.
    """
    check_auth_options(token, username, password)
    auth = Auth(token, username, password,
                frozenset(h.lower() for h in allowed_hosts) if allowed_hosts else None)
    d = Dashboard(basket, sample_interval=sample_interval, history=history,
                  refresh_seconds=refresh_seconds)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        d.sampler.start()
        try:
            yield
        finally:
            await run_in_threadpool(d.sampler.stop)

    app = Starlette(
        routes=[
            Route("/", d.overview, methods=["GET"], name="overview"),
            Route("/tasks", d.tasks, methods=["GET"], name="tasks"),
            Route("/tasks/{task_id}", d.task, methods=["GET"], name="task"),
            Route("/tasks/{task_id}/{action}", d.task_action, methods=["POST"],
                  name="task_action"),
            Route("/purge", d.purge_page, methods=["GET"], name="purge_page"),
            Route("/purge", d.purge, methods=["POST"], name="purge"),
            Route("/api/overview", d.api_overview, methods=["GET"], name="api_overview"),
            Route("/api/tasks", d.api_tasks, methods=["GET"], name="api_tasks"),
            Route("/api/tasks/{task_id}", d.api_task, methods=["GET"], name="api_task"),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[Middleware(_Guard, auth=auth, dashboard=d)],
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

    A host other than loopback is refused unless a token or basic auth is configured.
    """
    check_bind(host, token=token, username=username, password=password)
    import uvicorn

    app = create_app(basket, token=token, username=username, password=password,
                     **app_options)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level)
    logging.getLogger("uvicorn.access").addFilter(_redact_token)  # after uvicorn's config
    uvicorn.Server(config).run()


def _redact_token(record: logging.LogRecord) -> bool:
    """Keep ``?token=`` out of access logs (uvicorn logs the path as its third argument)."""
    args = record.args
    if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
        record.args = (*args[:2], _TOKEN_IN_QUERY.sub(r"\1***", args[2]), *args[3:])
    return True
