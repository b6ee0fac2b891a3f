"""The web dashboard over HTTP (Starlette's TestClient), against a real store of each backend."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from taskbasket import Basket, ConfigurationError, State
from taskbasket.cli import main
from taskbasket.dashboard import create_app, serve
from taskbasket.dashboard.app import CSRF_COOKIE, SESSION_COOKIE, Sample, charts, check_bind
from tests.helpers import wait_for

BASE = "http://127.0.0.1"
LOOPBACK = ("127.0.0.1", 50000)  # the TestClient's own default ("testclient") is no address
SCRIPT = "<script>alert(1)</script>"
TOKEN = "a-long-random-dashboard-token-0123456789"


@dataclass
class Shop:
    """A store with tasks in several states, made by running a real worker."""

    basket: Basket
    failed: list[str]
    succeeded: list[str]
    queued: list[str]
    scheduled: str
    script: str


def make_basket(url: str) -> Basket:
    basket = Basket(url)

    @basket.task(queue="emails", max_attempts=1)
    def send_email(to: str) -> None:
        if to.startswith("bad") or to == SCRIPT:
            raise ValueError(f"no such mailbox: {to}")

    @basket.task(queue="reports")
    def report(n: int) -> None:
        return None

    return basket


@pytest.fixture
def shop(store_url: str) -> Iterator[Shop]:
    basket = make_basket(store_url)
    failed = [basket.enqueue("send_email", [f"bad{i}@example.com"]).id for i in range(3)]
    script = basket.enqueue("send_email", [SCRIPT]).id
    succeeded = [basket.enqueue("send_email", [f"ok{i}@example.com"]).id for i in range(2)]
    succeeded += [basket.enqueue("report", [i]).id for i in range(3)]
    basket.worker(concurrency=2, visibility_timeout=5).run_until_empty(60)
    queued = [basket.enqueue("report", [i]).id for i in range(10, 14)]
    scheduled = basket.enqueue("report", [99], delay=3600).id
    assert basket.count(State.FAILED) == 4 and basket.count(State.SUCCEEDED) == 5
    try:
        yield Shop(basket, [*failed, script], succeeded, queued, scheduled, script)
    finally:
        basket.close()


@pytest.fixture
def client(shop: Shop) -> Iterator[TestClient]:
    app = create_app(shop.basket, allow_unauthenticated=True, sample_interval=0.05)
    with TestClient(app, base_url=BASE, client=LOOPBACK) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def snapshot(basket: Basket) -> list[tuple[Any, ...]]:
    """Everything an action could change, for every task."""
    return [(t.id, t.state, t.attempts, t.run_at, t.finished_at)
            for t in basket.list(limit=1000)]


# ---------------------------------------------------------------------- pages


def test_pages_render(client: TestClient, shop: Shop) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Overview</h1>" in html
    assert re.search(r'data-q="emails" data-s="failed">4<', html)
    assert re.search(r'data-q="emails" data-s="succeeded">2<', html)
    assert re.search(r'data-q="reports" data-s="queued">4<', html)
    assert re.search(r'data-q="reports" data-s="scheduled">1<', html)
    assert 'href="/purge?queue=emails&amp;state=failed"' in html
    assert 'data-chart="finished"' in html and 'data-chart="backlog"' in html
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"

    listing = client.get("/tasks")
    assert listing.status_code == 200
    assert all(task_id in listing.text for task_id in shop.failed + shop.queued)

    detail = client.get(f"/tasks/{shop.failed[0]}")
    assert detail.status_code == 200
    assert "bad0@example.com" in detail.text
    assert "1 of 1" in detail.text  # attempts
    assert '<pre class="traceback" data-last-error>Traceback' in detail.text
    assert "ValueError: no such mailbox: bad0@example.com" in detail.text
    assert ">Retry</button>" in detail.text and ">Cancel</button>" not in detail.text

    queued = client.get(f"/tasks/{shop.queued[0]}").text
    assert ">Cancel</button>" in queued and ">Retry</button>" not in queued

    confirm = client.get("/purge", params={"queue": "emails", "state": "failed"})
    assert confirm.status_code == 200 and "Delete 4 tasks" in confirm.text

    assert client.get("/tasks/no-such-task").status_code == 404
    assert client.get("/tasks", params={"state": "bogus"}).status_code == 400
    assert client.get("/static/dashboard.js").status_code == 200


def test_json_api(client: TestClient, shop: Shop) -> None:
    overview = client.get("/api/overview").json()
    assert overview["totals"]["failed"] == 4 and overview["total"] == 14
    rows = {row["queue"]: row["counts"] for row in overview["queues"]}
    assert rows["emails"]["failed"] == 4 and rows["reports"]["queued"] == 4
    assert [c["key"] for c in overview["charts"]] == ["finished", "backlog"]

    task = client.get(f"/api/tasks/{shop.script}").json()
    assert task["args"] == [SCRIPT] and task["state"] == "failed"
    assert "no such mailbox" in task["last_error"]
    missing = client.get("/api/tasks/nope")
    assert missing.status_code == 404 and "error" in missing.json()


def test_filters(client: TestClient, shop: Shop) -> None:
    def ids(**params: Any) -> list[str]:
        response = client.get("/api/tasks", params=params)
        assert response.status_code == 200
        return [t["id"] for t in response.json()["tasks"]]

    basket = shop.basket
    assert ids(state="failed") == [t.id for t in basket.list(State.FAILED)]
    assert set(ids(state="failed")) == set(shop.failed)
    assert set(ids(queue="reports", state="queued")) == set(shop.queued)
    assert set(ids(name="send_email", state="succeeded")) == set(shop.succeeded[:2])
    assert set(ids(state="scheduled")) == {shop.scheduled}
    assert ids(queue="nowhere") == []

    html = client.get("/tasks", params={"state": "failed", "queue": "emails"}).text
    shown = re.findall(r'<tr data-task="([^"]+)"', html)
    assert set(shown) == set(shop.failed)
    assert '<option value="failed" selected>' in html
    assert re.search(r"<span data-matching>4</span> matching tasks", html)


def test_cursor_paging(client: TestClient, shop: Shop) -> None:
    everything = [t.id for t in shop.basket.list(limit=1000)]
    assert len(everything) == 14

    seen: list[str] = []
    before = None
    while True:
        params = {"limit": "3", **({"before": before} if before else {})}
        page = client.get("/api/tasks", params=params).json()
        seen += [t["id"] for t in page["tasks"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == everything  # newest first, each once

    # the HTML pages link to the next page with the same filters
    html = client.get("/tasks", params={"limit": "3"}).text
    link = re.search(r'href="(/tasks\?[^"]+)" rel="next"', html)
    assert link, "no link to the next page"
    following = client.get(link.group(1).replace("&amp;", "&")).text
    assert re.findall(r'<tr data-task="([^"]+)"', following) == everything[3:6]
    assert "« newest" in following


def test_script_argument_renders_as_text(client: TestClient, shop: Shop) -> None:
    for path in (f"/tasks/{shop.script}", "/tasks?state=failed"):
        html = client.get(path).text
        assert SCRIPT not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # and a notice cannot be injected through the query string
    html = client.get("/", params={"notice": SCRIPT}).text
    assert SCRIPT not in html


# ---------------------------------------------------------------------- actions


def test_actions_refuse_a_missing_or_wrong_csrf_token(client: TestClient, shop: Shop) -> None:
    before = snapshot(shop.basket)
    token = csrf_of(client.get(f"/tasks/{shop.failed[0]}").text)
    session = client.cookies.get(CSRF_COOKIE)
    assert session and session != token  # the token is bound to the session, not a copy
    targets = [f"/tasks/{shop.failed[0]}/{a}" for a in ("retry", "delete")]
    targets += [f"/tasks/{shop.queued[0]}/cancel"]
    for path in targets:
        assert client.post(path).status_code == 403
        assert client.post(path, data={"csrf_token": ""}).status_code == 403
        assert client.post(path, data={"csrf_token": token + "x"}).status_code == 403
    purge = {"queue": "emails", "state": "failed"}
    assert client.post("/purge", data=purge).status_code == 403
    assert client.post("/purge", data={**purge, "csrf_token": "forged"}).status_code == 403
    # the right field without the cookie (a cross-site form cannot send it) fails too
    client.cookies.delete(CSRF_COOKIE)
    assert client.post(targets[0], data={"csrf_token": token}).status_code == 403
    # and a cross-origin POST is refused even with a valid pair
    client.cookies.set(CSRF_COOKIE, session)
    response = client.post(targets[0], data={"csrf_token": token},
                           headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    assert snapshot(shop.basket) == before


def test_actions_work_with_the_csrf_token(client: TestClient, shop: Shop) -> None:
    basket = shop.basket
    failed = shop.failed[0]
    token = csrf_of(client.get(f"/tasks/{failed}").text)

    response = client.post(f"/tasks/{failed}/retry", data={"csrf_token": token},
                           headers={"Origin": BASE}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/tasks/{failed}?notice=retried"
    task = basket.get(failed)
    assert task is not None and task.state == State.QUEUED and task.attempts == 0
    assert "queued to run again" in client.get(response.headers["location"]).text

    queued = shop.queued[0]
    behind_proxy = {"Origin": "https://tasks.example.com",
                    "X-Forwarded-Host": "tasks.example.com"}
    client.post(f"/tasks/{queued}/cancel", data={"csrf_token": token}, headers=behind_proxy)
    task = basket.get(queued)
    assert task is not None and task.state == State.CANCELLED
    # a second cancel changes nothing and says so
    again = client.post(f"/tasks/{queued}/cancel", data={"csrf_token": token})
    assert "Nothing cancelled" in again.text

    response = client.post(f"/tasks/{shop.failed[1]}/delete", data={"csrf_token": token},
                           follow_redirects=False)
    assert response.headers["location"] == "/tasks?notice=deleted"
    assert basket.get(shop.failed[1]) is None

    assert client.post(f"/tasks/{queued}/explode", data={"csrf_token": token}).status_code == 404

    # purge: the queue's failed tasks go, nothing else does
    remaining = basket.count(State.FAILED, queue="emails")
    assert remaining == 2
    others = basket.count() - remaining
    response = client.post("/purge", data={"csrf_token": token, "queue": "emails",
                                           "state": "failed"}, follow_redirects=False)
    assert response.status_code == 303 and "n=2" in response.headers["location"]
    assert basket.count(State.FAILED) == 0 and basket.count() == others
    waiting = basket.count(State.QUEUED, queue="reports")
    refused = client.post("/purge", data={"csrf_token": token, "queue": "reports",
                                          "state": "queued"})
    assert refused.status_code == 400 and basket.count(State.QUEUED, queue="reports") == waiting
    # the overview shows the change at once
    assert client.get("/api/overview").json()["totals"]["failed"] == 0


def test_get_never_changes_anything(client: TestClient, shop: Shop) -> None:
    before = snapshot(shop.basket)
    paths = ["/", "/tasks", "/tasks?state=failed", "/api/overview", "/api/tasks",
             "/purge?queue=emails&state=failed", "/purge?queue=reports&state=queued"]
    for task_id in (shop.failed[0], shop.queued[0]):
        paths += [f"/tasks/{task_id}", f"/api/tasks/{task_id}"]
        for action in ("retry", "cancel", "delete"):
            assert client.get(f"/tasks/{task_id}/{action}").status_code == 405
    for path in paths:
        client.get(path)
        client.head(path)
    assert snapshot(shop.basket) == before


# ---------------------------------------------------------------------- authentication


def test_token_is_required_when_configured(shop: Shop) -> None:
    app = create_app(shop.basket, token=TOKEN)
    with TestClient(app, base_url=BASE) as client:
        for path in ("/", "/tasks", f"/tasks/{shop.failed[0]}", "/api/overview",
                     "/static/dashboard.css"):
            assert client.get(path).status_code == 401
        denied = client.get("/api/tasks")
        assert denied.status_code == 401 and "Bearer" in denied.json()["error"]
        assert client.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/?token=wrong").status_code == 401

        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/api/overview", headers=bearer).status_code == 200
        assert client.get("/", headers=bearer).status_code == 200

        # ?token= on a first visit becomes a cookie and leaves the address bar
        first = client.get(f"/tasks?state=failed&token={TOKEN}", follow_redirects=False)
        assert first.status_code == 303
        assert first.headers["location"] == "/tasks?state=failed"
        session = client.cookies.get(SESSION_COOKIE)
        assert session and TOKEN not in session
        assert client.get("/tasks?state=failed").status_code == 200
        # a POST still needs its CSRF token
        assert client.post(f"/tasks/{shop.failed[0]}/retry").status_code == 403

    # with authentication, the dashboard answers to any Host (behind a proxy, say)
    with TestClient(app, base_url="http://dashboard.example.com") as remote:
        assert remote.get("/", headers=bearer).status_code == 200


def test_basic_auth(shop: Shop) -> None:
    app = create_app(shop.basket, username="ops", password="pa:ss word")
    with TestClient(app, base_url=BASE) as client:
        denied = client.get("/")
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"].startswith("Basic ")
        assert client.get("/", auth=("ops", "wrong")).status_code == 401
        assert client.get("/", auth=("other", "pa:ss word")).status_code == 401
        assert client.get("/", headers={"Authorization": "Basic !!!"}).status_code == 401
        assert client.get("/", auth=("ops", "pa:ss word")).status_code == 200


def test_without_auth_only_loopback_host_headers_are_answered(shop: Shop) -> None:
    app = create_app(shop.basket, allow_unauthenticated=True)
    for base in ("http://localhost:8080", "http://127.0.0.1", "http://[::1]:8080"):
        with TestClient(app, base_url=base, client=LOOPBACK) as client:
            assert client.get("/").status_code == 200, base
    # a DNS-rebinding page reaches 127.0.0.1 under its own name: refused
    with TestClient(app, base_url="http://rebind.evil.example", client=LOOPBACK) as client:
        assert client.get("/").status_code == 400
    with TestClient(create_app(shop.basket, allowed_hosts=["tasks.internal"],
                               allow_unauthenticated=True),
                    base_url="http://tasks.internal", client=LOOPBACK) as client:
        assert client.get("/").status_code == 200


def test_non_loopback_bind_without_auth_is_refused(shop: Shop) -> None:
    for host in ("0.0.0.0", "::", "192.0.2.10", "example.com"):
        with pytest.raises(ConfigurationError, match="--token") as error:
            serve(shop.basket, host=host, port=1)
        assert "--basic-auth" in str(error.value)
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_bind(host)
    check_bind("0.0.0.0", token=TOKEN)
    check_bind("0.0.0.0", username="ops", password="secret")
    with pytest.raises(ConfigurationError, match="both"):
        check_bind("0.0.0.0", username="ops")
    with pytest.raises(ConfigurationError, match="empty"):
        create_app(shop.basket, token="")

    # the command line says the same and exits before binding anything
    result = CliRunner().invoke(main, ["--url", shop.basket.url, "dashboard", "--host",
                                       "0.0.0.0", "--port", "1"])
    assert result.exit_code == 2
    assert "refusing to serve the dashboard" in result.output
    bad = CliRunner().invoke(main, ["--url", shop.basket.url, "dashboard", "--basic-auth",
                                    "nopassword"])
    assert bad.exit_code == 2 and "USER:PASS" in bad.output


# ---------------------------------------------------------------------- the charts


def test_sampler_fills_the_charts(shop: Shop) -> None:
    app = create_app(shop.basket, allow_unauthenticated=True, sample_interval=0.05)
    with TestClient(app, base_url=BASE, client=LOOPBACK) as client:
        sampler = app.state.dashboard.sampler
        wait_for(lambda: len(sampler.history()) >= 3, message="three samples")
        backlog = client.get("/api/overview").json()["charts"][1]
        assert backlog["span"].startswith("last ")
        waiting = next(s for s in backlog["series"] if s["key"] == "waiting")
        assert len(waiting["points"].split()) >= 3 and waiting["last"] == "5"
    assert not sampler.running  # the lifespan stopped it


def test_chart_rates_come_from_count_differences() -> None:
    def sample(at: float, succeeded: int, failed: int) -> Sample:
        return Sample(at, {("q", State.SUCCEEDED): succeeded, ("q", State.FAILED): failed})

    history = [sample(100, 0, 0), sample(105, 50, 5), sample(110, 50, 5),
               sample(115, 40, 5)]  # finished tasks were cleaned: no negative rate
    finished = charts(history, window=3600)[0]
    series = {s["key"]: s for s in finished["series"]}
    assert series["succeeded"]["points"].split() == [
        "200.0,0.0", "400.0,120.0", "600.0,120.0"]  # 10/s at the top of a 10/s scale
    assert series["failed"]["points"].split() == ["200.0,108.0", "400.0,120.0", "600.0,120.0"]
    assert finished["top"] == "10/s" and finished["span"] == "last 15 s"
    assert charts([], window=60)[0]["span"] == "collecting samples…"


def test_a_bad_cursor_is_a_client_error(client: TestClient, shop: Shop) -> None:
    for path in ("/api/tasks", "/tasks"):
        response = client.get(path, params={"before": "not-an-id"})
        assert response.status_code in (200, 400), response.text
    assert client.get("/api/tasks", params={"limit": "0"}).status_code == 400
    assert client.get("/api/tasks", params={"limit": "x"}).status_code == 400
