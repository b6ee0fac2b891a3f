"""A worker's health endpoints for load balancers and Kubernetes probes.

- ``GET /healthz`` (liveness): 200 while the worker's claim loop goes round and its store
  has not failed every call for longer than the bounds of ``worker.health``; 503 otherwise.
  A stopping worker stays live, so a probe never kills it inside its grace period.
- ``GET /readyz`` (readiness): 200 once the worker runs, while it is not stopping and its
  last store call worked; 503 otherwise.

Both answer JSON (``HealthReport.as_dict``) and cost the store nothing: they read what the
worker's own calls recorded. ``taskbasket worker --metrics-port`` serves them beside
``/metrics``; ``--health-port`` serves them alone, without prometheus-client.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

if TYPE_CHECKING:
    from taskbasket.worker import Worker

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

HEALTH_PATHS = ("/healthz", "/readyz")


def health_app(worker: Worker, fallback: WSGIApp | None = None) -> WSGIApp:
    """A WSGI app answering ``/healthz`` and ``/readyz`` for ``worker``; every other path
    goes to ``fallback`` (e.g. prometheus-client's ``/metrics`` app), or is a 404."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in HEALTH_PATHS:
            if fallback is not None:
                return fallback(environ, start_response)
            return _answer(start_response, 404, {"error": f"no such path {path!r}; try "
                                                          f"{' or '.join(HEALTH_PATHS)}"})
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return _answer(start_response, 405, {"error": "only GET and HEAD"})
        report = worker.health.check()
        good = report.live if path == "/healthz" else report.ready
        return _answer(start_response, 200 if good else 503, report.as_dict())

    return app


def _answer(start_response: Callable[..., Any], status: int, body: dict[str, object]
            ) -> list[bytes]:
    reasons = {200: "OK", 404: "Not Found", 405: "Method Not Allowed",
               503: "Service Unavailable"}
    data = json.dumps(body).encode()
    start_response(f"{status} {reasons[status]}", [
        ("Content-Type", "application/json"), ("Content-Length", str(len(data))),
        ("Cache-Control", "no-store"),
    ])
    return [data]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds
        pass


def serve_wsgi(app: WSGIApp, port: int, host: str = "127.0.0.1"
               ) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``app`` on ``host:port`` (0: any free port) from a daemon thread; returns
    (server, thread). Stop it with ``server.shutdown(); server.server_close()``."""
    server = make_server(host, port, app, server_class=_ThreadingServer,
                         handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="taskbasket-http",
                              daemon=True)
    thread.start()
    return server, thread


def serve_health(worker: Worker, port: int, host: str = "127.0.0.1"
                 ) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``/healthz`` and ``/readyz`` of ``worker`` alone on ``host:port``."""
    return serve_wsgi(health_app(worker), port, host)
