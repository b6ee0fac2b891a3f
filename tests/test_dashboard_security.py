"""The dashboard against hostile clients (issue 14: F2, F4, F11, F12), over real HTTP
requests (Starlette's TestClient) and, for the command, a real ``taskbasket dashboard``.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from taskbasket import Basket, ConfigurationError, State
from taskbasket.dashboard import create_app
from taskbasket.dashboard.app import CSRF_COOKIE
from taskbasket.dashboard.sampling import Sampler
from taskbasket.metrics import StoreCollector
from tests.helpers import ROOT, wait_for

BASE = "http://localhost"
TOKEN = "a-long-random-dashboard-token-0123456789"
LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("192.0.2.7", 50000)  # TEST-NET-1: never this machine


@pytest.fixture
def basket(sqlite_url: str) -> Iterator[Basket]:
    basket = Basket(sqlite_url)

    @basket.task(queue="emails")
    def send(to: str) -> None: ...

    try:
        yield basket
    finally:
        basket.close()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# ---------------------------------------------------------------------- F2


def test_without_auth_create_app_refuses_to_start(basket: Basket) -> None:
    with pytest.raises(ConfigurationError) as error:
        create_app(basket)
    message = str(error.value)
    assert "token=" in message and "allow_unauthenticated=True" in message
    assert "proxy" in message
    # either fix is accepted
    create_app(basket, token=TOKEN)
    create_app(basket, username="ops", password="secret")
    create_app(basket, allow_unauthenticated=True)


def test_without_auth_a_remote_client_is_refused_whatever_its_host_header(
    basket: Basket,
) -> None:
    task = basket.enqueue("send", ["ops@example.com"]).id
    app = create_app(basket, allow_unauthenticated=True)
    with TestClient(app, base_url=BASE, client=LOOPBACK) as local:
        page = local.get(f"/tasks/{task}")
        assert page.status_code == 200
        token = csrf_of(page.text)
        session = local.cookies.get(CSRF_COOKIE)
    assert session

    # a remote client naming the dashboard "localhost" (a mounted app that listens
    # beyond loopback) holding a valid session: refused, for pages and actions alike
    with TestClient(app, base_url=BASE, client=REMOTE) as remote:
        for path in ("/", "/tasks", f"/tasks/{task}", "/api/overview", "/api/tasks",
                     f"/api/tasks/{task}", "/static/dashboard.js"):
            response = remote.get(path)
            assert response.status_code == 403, path
        assert "192.0.2.7" in remote.get("/api/tasks").json()["error"]
        remote.cookies.set(CSRF_COOKIE, session)
        form = {"csrf_token": token}
        for action in ("cancel", "delete"):
            assert remote.post(f"/tasks/{task}/{action}", data=form).status_code == 403
        purge = {**form, "queue": "emails", "state": "failed"}
        assert remote.post("/purge", data=purge).status_code == 403
    stored = basket.get(task)
    assert stored is not None and stored.state == State.QUEUED

    # this machine, by any loopback address
    for client in (("127.0.0.1", 1), ("127.0.0.2", 1), ("::1", 1), ("::ffff:127.0.0.1", 1)):
        with TestClient(app, base_url=BASE, client=client) as local:
            assert local.get("/").status_code == 200, client

    # and with authentication, a remote client that authenticates is answered
    guarded = create_app(basket, token=TOKEN)
    with TestClient(guarded, base_url="http://tasks.example.com", client=REMOTE) as remote:
        assert remote.get("/").status_code == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert remote.get("/", headers=bearer).status_code == 200


def test_the_dashboard_command_serves_this_machine_without_auth(sqlite_url: str) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TASKBASKET_URL": sqlite_url}
    env.pop("TASKBASKET_DASHBOARD_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "taskbasket", "dashboard", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        def answers() -> bool:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                return httpx2.get(f"http://127.0.0.1:{port}/api/overview").status_code == 200
            except httpx2.TransportError:
                return False

        wait_for(answers, 30, "the dashboard to answer on 127.0.0.1")
    finally:
        process.terminate()
        process.wait(30)
        if process.stderr:
            process.stderr.close()


# ---------------------------------------------------------------------- F11


def test_a_planted_csrf_cookie_makes_no_valid_token(basket: Basket) -> None:
    task = basket.enqueue("send", ["ops@example.com"]).id
    app = create_app(basket, allow_unauthenticated=True)
    # an attacker who can set a cookie for this host (a sibling subdomain, plain http)
    # picks a value and submits the same value in a cross-site form
    chosen = "A" * 43
    with TestClient(app, base_url=BASE, client=LOOPBACK) as victim:
        victim.cookies.set(CSRF_COOKIE, chosen)
        for field in (chosen, chosen.lower(), ""):
            response = victim.post(f"/tasks/{task}/cancel", data={"csrf_token": field})
            assert response.status_code == 403
    stored = basket.get(task)
    assert stored is not None and stored.state == State.QUEUED

    # a token works with its own session only, and in the app that made it only
    with TestClient(app, base_url=BASE, client=LOOPBACK) as first, \
            TestClient(app, base_url=BASE, client=LOOPBACK) as second:
        first_token = csrf_of(first.get(f"/tasks/{task}").text)
        second_token = csrf_of(second.get(f"/tasks/{task}").text)
        assert first_token != second_token
        assert first_token != first.cookies.get(CSRF_COOKIE)
        denied = second.post(f"/tasks/{task}/cancel", data={"csrf_token": first_token})
        assert denied.status_code == 403
        other_app = create_app(basket, allow_unauthenticated=True)
        with TestClient(other_app, base_url=BASE, client=LOOPBACK) as elsewhere:
            elsewhere.cookies.set(CSRF_COOKIE, first.cookies.get(CSRF_COOKIE) or "")
            assert elsewhere.post(f"/tasks/{task}/cancel",
                                  data={"csrf_token": first_token}).status_code == 403
        done = first.post(f"/tasks/{task}/cancel", data={"csrf_token": first_token},
                          follow_redirects=False)
        assert done.status_code == 303
    stored = basket.get(task)
    assert stored is not None and stored.state == State.CANCELLED


# ---------------------------------------------------------------------- F12


def test_a_token_sign_in_redirects_only_to_paths_of_the_app(basket: Basket) -> None:
    app = create_app(basket, token=TOKEN)
    host = "dash.example.com"
    hostile = ["//evil.example/", "//evil.example/x?y=1", "///evil.example",
               "/%2F/evil.example", "/%2F%2Fevil.example", "/%5C/evil.example",
               "/%5Cevil.example", "/%09/evil.example", "/%0D%0A/evil.example"]
    with TestClient(app, base_url=f"http://{host}") as client:
        for path in hostile:
            separator = "&" if "?" in path else "?"
            response = client.get(f"http://{host}{path}{separator}token={TOKEN}",
                                  follow_redirects=False)
            assert response.status_code == 303, path
            location = response.headers["location"]
            target = urlsplit(urljoin(f"http://{host}/here", location))
            assert target.netloc == host, (path, location)
            assert location.startswith("/") and not location.startswith("//"), location
            assert "\\" not in location and "\t" not in location, location
            assert "token" not in location
        # an ordinary sign-in keeps its path and query
        ordinary = client.get(f"/tasks?state=failed&token={TOKEN}", follow_redirects=False)
        assert ordinary.headers["location"] == "/tasks?state=failed"

    # mounted under a prefix, the target stays under it
    parent = Starlette(routes=[Mount("/ops", app=app)])
    with TestClient(parent, base_url=f"http://{host}") as client:
        response = client.get(f"http://{host}/ops//evil.example/?token={TOKEN}",
                              follow_redirects=False)
        location = response.headers["location"]
        assert location.startswith("/ops/") and not location.startswith("//"), location
        ordinary = client.get(f"/ops/tasks?token={TOKEN}", follow_redirects=False)
        assert ordinary.headers["location"] == "/ops/tasks"


# ---------------------------------------------------------------------- F4


def test_sampler_and_store_metrics_warnings_redact_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    password = "hunter2-sampler-secret"
    url = f"redis://:{password}@127.0.0.1:{free_port()}/0"  # nothing listens there
    caplog.set_level(logging.WARNING)
    with Basket(url) as basket:
        sampler = Sampler(basket, interval=0.05)
        sampler.start()
        try:
            wait_for(lambda: any("sampler" in r.getMessage() for r in caplog.records), 30,
                     "the sampler to log that it cannot read the store")
        finally:
            sampler.stop()
        assert StoreCollector(basket, cache_seconds=0).stats() is None
    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot read task counts" in m for m in messages), messages
    assert any("sampler" in m for m in messages), messages
    assert not [m for m in messages if password in m], messages
    assert any("***" in m and "127.0.0.1" in m for m in messages), messages
