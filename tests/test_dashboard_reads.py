"""What the dashboard reads from the store: only what a page shows (issue 14, F9), and
samples for its charts even when mounted in another app (issue 18, item 3).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from taskbasket import Basket
from taskbasket.backends import open_backend
from taskbasket.backends.base import Backend, ListParams, StoredTask
from taskbasket.dashboard import create_app
from tests.helpers import wait_for

BASE = "http://127.0.0.1"
LOOPBACK = ("127.0.0.1", 50000)
TOKEN = "a-long-random-dashboard-token-0123456789"
BULKY = "x" * 200_000


class PayloadMeter:
    """A real store that counts the argument bytes its reads hand back (not a mock: every
    call goes to the store as it is)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.payload_bytes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def tasks_get(self, task_id: str) -> StoredTask | None:
        found = self.backend.tasks_get(task_id)
        self.payload_bytes += len(found.payload) if found else 0
        return found

    def tasks_list(self, params: ListParams) -> list[StoredTask]:
        found = self.backend.tasks_list(params)
        self.payload_bytes += sum(len(t.payload) for t in found)
        return found


@pytest.fixture
def metered(store_url: str) -> Iterator[tuple[Basket, PayloadMeter]]:
    meter = PayloadMeter(open_backend(store_url))
    basket = Basket(store_url, backend=meter)  # type: ignore[arg-type]

    @basket.task(queue="files")
    def known() -> None: ...

    try:
        yield basket, meter
    finally:
        basket.close()


def test_pages_and_polls_read_no_arguments_they_do_not_show(
    metered: tuple[Basket, PayloadMeter],
) -> None:
    basket, meter = metered
    ids = [basket.enqueue("bulky", [BULKY, n], queue="files", strict=False).id for n in range(10)]
    app = create_app(basket, allow_unauthenticated=True, sample_interval=3600)
    with TestClient(app, base_url=BASE, client=LOOPBACK) as client:
        overview = client.get("/")
        listing = client.get("/tasks", params={"queue": "files"})
        page = client.get(f"/tasks/{ids[0]}")
        polls = {path: client.get(path) for path in (
            "/api/overview", "/api/tasks", "/api/tasks?state=queued&limit=5",
            f"/api/tasks/{ids[0]}/version")}

        # each page and poll, once more, measured alone
        def read_by(path: str) -> int:
            meter.payload_bytes = 0
            assert client.get(path).status_code == 200, path
            return meter.payload_bytes

        for path in ("/", "/tasks", "/tasks?queue=files&limit=3", *polls):
            assert read_by(path) == 0, path
        # a task's own page reads its own arguments, and no other task's
        assert len(BULKY) < read_by(f"/tasks/{ids[0]}") < len(BULKY) + 100

    # and they show what they showed before
    assert overview.status_code == 200
    assert re.search(r"<code>bulky</code> \(10\)", overview.text)  # waiting, no handler
    assert listing.status_code == 200
    assert re.findall(r'<tr data-task="([^"]+)"', listing.text) == ids[::-1]
    assert page.status_code == 200 and BULKY in page.text
    for path, response in polls.items():
        assert response.status_code == 200, path
        assert len(response.content) < 20_000, path  # no arguments in the JSON
    rows = polls["/api/tasks"].json()["tasks"]
    assert [r["id"] for r in rows] == ids[::-1]
    assert all("args" not in r and r["name"] == "bulky" for r in rows)

    # the version a task's page polls is the version the page was drawn with
    drawn = re.search(r'data-version="([^"]+)"', page.text)
    assert drawn and polls[f"/api/tasks/{ids[0]}/version"].json()["version"] == drawn.group(1)


def test_the_detail_poll_sees_a_change_and_a_deleted_task(
    metered: tuple[Basket, PayloadMeter],
) -> None:
    basket, _ = metered
    task = basket.enqueue("bulky", [BULKY], queue="files", strict=False).id
    app = create_app(basket, allow_unauthenticated=True, sample_interval=3600)
    with TestClient(app, base_url=BASE, client=LOOPBACK) as client:
        before = client.get(f"/api/tasks/{task}/version").json()
        assert before["state"] == "queued"
        basket.cancel(task)
        after = client.get(f"/api/tasks/{task}/version").json()
        assert after["state"] == "cancelled" and after["version"] != before["version"]
        basket.delete(task)
        assert client.get(f"/api/tasks/{task}/version").status_code == 404


# ---------------------------------------------------------------------- mounted


def test_a_mounted_dashboard_samples_without_its_own_lifespan(sqlite_url: str) -> None:
    basket = Basket(sqlite_url)
    basket.enqueue_many("report", [(n,) for n in range(5)], strict=False)
    dashboard = create_app(basket, token=TOKEN, sample_interval=0.05)

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse("the application")

    # the README's advice; FastAPI's app.mount is Starlette's Mount
    parent = Starlette(routes=[Route("/", home), Mount("/tasks", app=dashboard)])
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    sampler = dashboard.state.dashboard.sampler
    try:
        with TestClient(parent, base_url=BASE) as client:  # runs the parent's lifespan only
            assert client.get("/").text == "the application"
            assert client.get("/tasks/", headers=bearer).status_code == 200
            wait_for(lambda: len(sampler.history()) >= 3, 30, "three samples")
            backlog = client.get("/tasks/api/overview", headers=bearer).json()["charts"][1]
            assert backlog["span"].startswith("last ")
            waiting = next(s for s in backlog["series"] if s["key"] == "waiting")
            assert len(waiting["points"].split()) >= 3 and waiting["last"] == "5"
    finally:
        sampler.stop()
        basket.close()
    assert not sampler.running
