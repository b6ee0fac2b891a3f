"""The dashboard inside a Django project, for staff users only.

``path("tasks/", include("taskbasket.contrib.django.urls"))`` serves it under ``/tasks/``
through Django's own authentication: anonymous users go to ``LOGIN_URL``, signed-in users
who are not staff (``is_staff``, active) get 403. The dashboard keeps its own CSRF check
(an HMAC-bound token and a same-origin POST), so its view is exempt from Django's.
Options for it (``refresh_seconds``, ...) come from ``TASKBASKET["DASHBOARD"]``.
"""

from __future__ import annotations

import threading

from asgiref.sync import async_to_sync
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from taskbasket.contrib.asgi import MountedDashboard

_lock = threading.Lock()
_dashboard: MountedDashboard | None = None


def mounted_dashboard() -> MountedDashboard:
    """The process' one dashboard of the project's basket (its sampler runs from its first
    request until the process exits)."""
    global _dashboard
    if _dashboard is None:
        with _lock:
            if _dashboard is None:
                from django.conf import settings

                from taskbasket.contrib.django import get_basket
                from taskbasket.contrib.django.config import read_settings

                options = read_settings(getattr(settings, "TASKBASKET", None)).dashboard
                _dashboard = MountedDashboard(get_basket(), **options)
    return _dashboard


def _headers(request: HttpRequest) -> list[tuple[bytes, bytes]]:
    headers = []
    for key, value in request.META.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key.replace("_", "-").lower()
        else:
            continue
        if value:
            headers.append((name.encode("latin-1"), str(value).encode("latin-1")))
    return headers


@csrf_exempt
def dashboard(request: HttpRequest, path: str = "") -> HttpResponse:
    """Answer ``path`` of the dashboard for a staff user."""
    user = getattr(request, "user", None)
    if user is None:
        raise ImproperlyConfigured(
            "the taskbasket dashboard needs django.contrib.auth's AuthenticationMiddleware "
            "in MIDDLEWARE (it shows the dashboard to staff users only)"
        )
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not (user.is_active and user.is_staff):
        raise PermissionDenied("the task dashboard is for staff users only")
    full_path = request.path
    root_path = full_path[: len(full_path) - len(path)].rstrip("/")
    port = request.get_port()
    answer = async_to_sync(mounted_dashboard().handle)(
        method=request.method or "GET", root_path=root_path, path=full_path,
        query_string=request.META.get("QUERY_STRING", "").encode("latin-1"),
        headers=_headers(request), body=request.body, scheme=request.scheme or "http",
        client=(request.META.get("REMOTE_ADDR") or "127.0.0.1", 0),
        server=(request.get_host().rsplit(":", 1)[0], int(port) if port.isdigit() else 80),
    )
    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers:
        if name.lower() == "set-cookie":
            response.cookies.load(value)
        elif name.lower() != "content-length":
            response[name] = value
    return response
