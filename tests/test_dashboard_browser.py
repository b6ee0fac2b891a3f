"""The dashboard end to end in a real browser: headless Debian Chromium driven by Playwright.

uvicorn serves the dashboard from a thread on a free port, against a real SQLite store;
a worker runs in this process. Every wait is on a condition with a deadline.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright
from starlette.applications import Starlette

from taskbasket import Basket, State
from taskbasket.dashboard import create_app
from tests.helpers import ROOT, wait_for
from tests.stores import skip_unless_required

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TOKEN = "browser-test-token-7f3a9c1e5b"
SCRIPT = "<script>window.__xss = 1; alert(1)</script>"
# the README's picture is refreshed only on request: TB_UPDATE_SCREENSHOT=1 make pytest
SCREENSHOT = ROOT / "docs" / "dashboard.png"

if not CHROMIUM.exists() and os.environ.get("CI"):
    raise RuntimeError(f"{CHROMIUM} is missing in CI: `make browser` (run by `make pytest`) "
                       "installs Debian's chromium")
if not CHROMIUM.exists():  # under TASKBASKET_REQUIRE_BACKENDS=all (or =browser) a failure
    skip_unless_required("browser", f"{CHROMIUM} is not installed; `make browser` installs it "
                         "(apt-get install chromium)", allow_module_level=True)


class LiveServer:
    """uvicorn serving an app from a thread, on a socket bound before it starts."""

    def __init__(self, app: Starlette) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), 20,
                 "the dashboard to start")
        assert self.server.started, "uvicorn did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        self.socket.close()


class Switch:
    """Whether the ``fragile`` handler fails: the test flips it before the retry."""

    failing = True


@pytest.fixture
def basket(sqlite_url: str) -> Iterator[Basket]:
    basket = Basket(sqlite_url)

    @basket.task(queue="emails", max_attempts=1)
    def fragile(to: str) -> None:
        if Switch.failing or to == SCRIPT:
            raise ConnectionError(f"mail server refused {to}")

    @basket.task(queue="reports", max_attempts=1)
    def crunch(n: int) -> None:
        time.sleep(0.01)
        if n % 7 == 0:
            raise ValueError(f"cannot crunch {n}")

    Switch.failing = True
    try:
        yield basket
    finally:
        basket.close()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()


def test_retry_a_failed_task_in_the_browser(basket: Basket, page: Page, tmp_path: Path) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    target = basket.enqueue("fragile", ["ops@example.com"]).id
    hostile = basket.enqueue("fragile", [SCRIPT]).id
    basket.enqueue_many("crunch", [(n,) for n in range(1, 301)])
    basket.enqueue_many("crunch", [(n,) for n in range(1000, 1040)], delay=3600)

    app = create_app(basket, token=TOKEN, sample_interval=0.2, refresh_seconds=0.5)
    with LiveServer(app) as server:
        # some history for the charts: a worker drains the queues while samples are taken
        worker = basket.worker(concurrency=4, visibility_timeout=5)
        worker.start()
        try:
            wait_for(lambda: basket.count([State.QUEUED, State.RUNNING, State.RETRYING]) == 0,
                     60, "the worker to drain the queues")
        finally:
            worker.stop()
        failed = basket.count(State.FAILED)
        assert failed == 2 + len([n for n in range(1, 301) if n % 7 == 0])

        # the overview: a first visit with ?token= signs in and drops the token from the URL
        page.goto(f"{server.url}/?token={TOKEN}")
        expect(page).to_have_url(f"{server.url}/")
        expect(page.locator("h1")).to_have_text("Overview")
        expect(page.locator('.totals [data-total="failed"]')).to_have_text(str(failed))
        expect(page.locator('.totals [data-total="scheduled"]')).to_have_text("40")
        page.wait_for_function(
            "document.querySelector('polyline[data-series=\"succeeded\"]')"
            ".getAttribute('points').trim().split(' ').length >= 4")
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shot = SCREENSHOT if os.environ.get("TB_UPDATE_SCREENSHOT") else tmp_path / "o.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000

        # filter the failed tasks of `fragile`
        page.get_by_role("link", name="Tasks", exact=True).click()
        page.select_option('select[name="state"]', "failed")
        page.fill('input[name="name"]', "fragile")
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(f"{server.url}/tasks?state=failed&queue=&name=fragile")
        rows = page.locator("tr[data-task]")
        expect(rows).to_have_count(2)

        # the hostile argument is shown as text and never runs
        page.locator(f'tr[data-task="{hostile}"] a').click()
        expect(page.locator("[data-args]")).to_contain_text(SCRIPT)
        assert page.evaluate("window.__xss") is None
        page.go_back()

        # open the other one and retry it
        page.locator(f'tr[data-task="{target}"] a').click()
        expect(page.locator("[data-state]")).to_have_text("failed")
        expect(page.locator("[data-last-error]")).to_contain_text(
            "ConnectionError: mail server refused ops@example.com")
        page.get_by_role("button", name="Retry").click()
        expect(page.locator(".notice")).to_contain_text("queued to run again")
        expect(page.locator("[data-state]")).to_have_text("queued")
        task = basket.get(target)
        assert task is not None and task.state == State.QUEUED

        # the handler works now; a worker runs the task and the page follows by itself
        Switch.failing = False
        worker = basket.worker(concurrency=1, visibility_timeout=5)
        worker.start()
        try:
            expect(page.locator("[data-state]")).to_have_text("succeeded", timeout=30_000)
        finally:
            worker.stop()
        expect(page.locator("[data-attempts]")).to_have_text("1 of 1")

    assert dialogs == [] and errors == []
