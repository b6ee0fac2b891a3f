"""Every guard of the dashboard, in one place: who may ask, and which requests count.

- **Without authentication, this machine only.** The client's address must be loopback
  (or a Unix socket, which has none), and the ``Host`` header must name loopback, against
  DNS rebinding. Behind a reverse proxy on this host every client *is* loopback, so a
  dashboard behind a proxy needs authentication.
- **With authentication**, every request needs a bearer token, the session cookie that a
  ``?token=`` visit sets (the visit then redirects to the same path of this app, never
  elsewhere), or HTTP basic auth.
- **CSRF.** Each browser gets a random session id in a cookie; every POST must carry a
  token that is the HMAC of that id under a secret of this app (a planted cookie is
  worthless without the secret), and its Origin or Referer must name this host.
- GET never changes anything; a strict Content-Security-Policy; no framing, no sniffing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp

from taskbasket.errors import ConfigurationError

CSRF_COOKIE = "taskbasket_csrf"
"""The browser's random session id, which every form's CSRF token is bound to."""
SESSION_COOKIE = "taskbasket_session"
"""Proof of a ``?token=`` sign-in: a digest of the token, never the token."""
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})
_SESSION_ID = re.compile(r"^[A-Za-z0-9_\-]{43}$")  # secrets.token_urlsafe(32)
_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&]*")

ErrorPage = Callable[[Request, int, str], Response]


# ---------------------------------------------------------------------- configuration


def is_loopback(host: str) -> bool:
    """True for a name or address that only this machine can reach."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


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


def check_unauthenticated(required: bool, allow_unauthenticated: bool) -> None:
    """``create_app`` without authentication needs the caller to say so."""
    if not required and not allow_unauthenticated:
        raise ConfigurationError(
            "create_app(basket) without authentication would let whoever reaches the app "
            "retry, cancel, delete and purge tasks. Pass token='a long random string' (or "
            "username= and password=), or pass allow_unauthenticated=True to answer "
            "clients on this machine only (behind a reverse proxy every client is this "
            "machine: use a token there)"
        )


# ---------------------------------------------------------------------- checks


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


@dataclass(frozen=True)
class Auth:
    """The dashboard's authentication settings, and the checks that read them."""

    token: str | None = None
    username: str | None = None
    password: str | None = None
    allowed_hosts: frozenset[str] | None = None
    session_value: str = field(init=False)
    csrf_secret: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # The cookie holds a digest of the token, not the token itself.
        digest = hmac.new((self.token or "").encode(), b"taskbasket dashboard session",
                          hashlib.sha256).hexdigest()
        object.__setattr__(self, "session_value", digest)
        object.__setattr__(self, "csrf_secret", secrets.token_bytes(32))

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

    def client_allowed(self, request: Request) -> bool:
        """With authentication anyone; without, only a client on this machine."""
        client = request.client
        return self.required or client is None or is_loopback(client.host)

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

    def csrf_token(self, session_id: str) -> str:
        """The CSRF token of a session: an HMAC of its id under this app's secret."""
        return hmac.new(self.csrf_secret, session_id.encode(), hashlib.sha256).hexdigest()


def csrf_valid(request: Request, sent: object) -> bool:
    """True if a form's CSRF field is the token of this request's session."""
    expected = getattr(request.state, "csrf", "")
    return isinstance(sent, str) and bool(sent) and bool(expected) and _equal(sent, expected)


def same_origin(request: Request) -> bool:
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


def login_target(request: Request) -> str:
    """Where a ``?token=`` visit goes next: the same path of this app, without the token.

    Always a path of this app: leading slashes and backslashes collapse into one slash and
    every character a browser could read as a separator stays percent-encoded, so that
    ``//evil.example/?token=...`` cannot send the browser to another site.
    """
    root = str(request.scope.get("root_path", "")).rstrip("/")
    path = "/" + quote(request.url.path).lstrip("/")
    if root and path != root and not path.startswith(root + "/"):
        path = root + "/"
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    return path + (f"?{urlencode(query)}" if query else "")


def security_headers(response: Response, request: Request) -> None:
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


# ---------------------------------------------------------------------- middleware


class Guard(BaseHTTPMiddleware):
    """Host and client checks, authentication, the CSRF session, and security headers."""

    def __init__(self, app: ASGIApp, auth: Auth, error_page: ErrorPage) -> None:
        super().__init__(app)
        self.auth = auth
        self.error_page = error_page

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await self._dispatch(request, call_next)
        security_headers(response, request)
        return response

    async def _dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        auth = self.auth
        if not auth.host_allowed(request):
            return self.error_page(request, 400, "This Host header is not allowed. The "
                                   "dashboard answers to localhost only unless "
                                   "authentication is configured.")
        if not auth.client_allowed(request):
            client = request.client.host if request.client else "?"
            return self.error_page(request, 403, f"This dashboard has no authentication, so "
                                   f"it answers clients on its own machine only (not "
                                   f"{client}). Its operator can configure a token or "
                                   "basic auth.")
        https = request.url.scheme == "https"
        token = request.query_params.get("token")
        if auth.required and token is not None and request.method in SAFE_METHODS:
            if not auth.token_matches(token):
                return self._unauthorized(request, "That token is wrong.")
            # The token moves into a cookie and out of the address bar and history.
            redirect = RedirectResponse(login_target(request), status_code=303)
            redirect.set_cookie(SESSION_COOKIE, auth.session_value, httponly=True,
                                samesite="lax", secure=https)
            return redirect
        if not auth.authenticated(request):
            return self._unauthorized(request, "This dashboard needs authentication.")
        session_id = request.cookies.get(CSRF_COOKIE, "")
        fresh = _SESSION_ID.fullmatch(session_id) is None
        if fresh:
            session_id = secrets.token_urlsafe(32)
        request.state.csrf = auth.csrf_token(session_id)
        if request.method not in SAFE_METHODS and not same_origin(request):
            return self.error_page(request, 403, "Cross-origin request refused: its Origin "
                                   "does not name this host (behind a proxy, pass the Host "
                                   "header through or set X-Forwarded-Host).")
        response = await call_next(request)
        if fresh:
            response.set_cookie(CSRF_COOKIE, session_id, httponly=True, samesite="lax",
                                secure=https)
        return response

    def _unauthorized(self, request: Request, message: str) -> Response:
        hint = ("Open it once with ?token=YOUR_TOKEN in the address, or send "
                "'Authorization: Bearer YOUR_TOKEN'." if self.auth.token else "")
        response = self.error_page(request, 401, f"{message} {hint}".strip())
        if self.auth.username is not None:
            response.headers["WWW-Authenticate"] = 'Basic realm="taskbasket", charset="UTF-8"'
        return response


def redact_token(record: logging.LogRecord) -> bool:
    """Keep ``?token=`` out of access logs (uvicorn logs the path as its third argument)."""
    args = record.args
    if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
        record.args = (*args[:2], _TOKEN_IN_QUERY.sub(r"\1***", args[2]), *args[3:])
    return True

