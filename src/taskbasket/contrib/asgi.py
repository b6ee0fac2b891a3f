"""The dashboard behind another application's authentication, as one buffered ASGI call.

A framework decides who may see the dashboard (Django's staff users, a FastAPI
dependency) and then hands the request to ``MountedDashboard``, which answers it from the
dashboard's Starlette app. That app is created with a random token of this process, which
``MountedDashboard`` adds to every request it passes on, so the dashboard's own guards
(CSRF, security headers) stay on while authentication is the host application's. The
trade-off: responses are buffered whole, which suits the dashboard's pages and JSON (a
few kilobytes) and nothing that streams.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskbasket.basket import Basket

_HOP_BY_HOP = frozenset({b"authorization", b"connection", b"keep-alive", b"transfer-encoding"})


@dataclass
class BufferedResponse:
    """What the dashboard answered: status, headers (``set-cookie`` may repeat), body."""

    status: int = 500
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class MountedDashboard:
    """The dashboard of ``basket`` under ``root_path`` of a host app that authenticates.

    Call :meth:`handle` only for requests the host application has authenticated: the
    dashboard then trusts them. ``options`` go to ``taskbasket.dashboard.create_app``
    (``refresh_seconds``, ``sample_interval``, ``history``, ``allowed_hosts``).
    """

    def __init__(self, basket: Basket, **options: Any) -> None:
        from taskbasket.dashboard import create_app

        for refused in ("token", "username", "password", "allow_unauthenticated"):
            if refused in options:
                raise TypeError(
                    f"{refused}= is not an option of a mounted dashboard: the host "
                    "application authenticates its users (Django: staff only; FastAPI: your "
                    "dependency), so the dashboard needs no credentials of its own"
                )
        self._token = secrets.token_urlsafe(32)
        self.app = create_app(basket, token=self._token, **options)

    async def handle(
        self, *, method: str, root_path: str, path: str, query_string: bytes,
        headers: Sequence[tuple[bytes, bytes]], body: bytes, scheme: str = "http",
        client: tuple[str, int] | None = None, server: tuple[str, int] | None = None,
    ) -> BufferedResponse:
        """Answer one authenticated request. ``path`` is the whole path (``root_path``
        included, as ASGI has it); credentials the client sent are dropped."""
        passed = [(k.lower(), v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
        passed.append((b"authorization", f"Bearer {self._token}".encode()))
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method.upper(), "scheme": scheme, "root_path": root_path,
            "path": path, "raw_path": path.encode("utf-8", "surrogateescape"),
            "query_string": query_string, "headers": passed, "client": client,
            "server": server,
        }
        return await call_asgi(self.app, scope, body)


async def call_asgi(app: Any, scope: Mapping[str, Any], body: bytes) -> BufferedResponse:
    """Run one HTTP request through an ASGI ``app`` and collect its whole response."""
    response = BufferedResponse()
    chunks: list[bytes] = []
    sent = False
    complete = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await complete.wait()  # the client "disconnects" only once it has the response
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            response.status = int(message["status"])
            response.headers = [(k.decode("latin-1"), v.decode("latin-1"))
                                for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                complete.set()

    await app(dict(scope), receive, send)
    response.body = b"".join(chunks)
    return response
