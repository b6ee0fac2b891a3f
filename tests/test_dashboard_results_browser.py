"""The dashboard's results and progress in a real browser (headless Debian Chromium, as in
``test_dashboard_browser``): a running task's progress bar in the list and on its page
(which reloads as the progress moves), and a succeeded task's result on its page."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from taskbasket import Basket, current_task
from taskbasket.dashboard import create_app
from tests.helpers import wait_for
from tests.test_dashboard_browser import SCRIPT, TOKEN, LiveServer, page

__all__ = ["page"]

STEP = threading.Event()
DONE = threading.Event()


@pytest.fixture
def basket(sqlite_url: str) -> Iterator[Basket]:
    basket = Basket(sqlite_url)

    @basket.task
    def crunch(n: int) -> dict[str, object]:
        ctx = current_task()
        assert ctx is not None
        ctx.progress(1, 4, note="first of four")
        STEP.wait(20)
        ctx.progress(3, 4, note=SCRIPT)
        DONE.wait(20)
        return {"total": n * 2, "label": SCRIPT}

    STEP.clear()
    DONE.clear()
    try:
        yield basket
    finally:
        STEP.set()
        DONE.set()
        basket.close()


def test_progress_and_result_in_the_browser(basket: Basket, page: Page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    ref = basket.enqueue("crunch", [21])
    app = create_app(basket, token=TOKEN, sample_interval=0.2, refresh_seconds=0.5)
    worker = basket.worker(concurrency=1, visibility_timeout=10)
    with LiveServer(app) as server:
        worker.start()
        try:
            wait_for(lambda: (t := basket.get(ref.id)) is not None and t.progress is not None,
                     20, "the first progress report")
            page.goto(f"{server.url}/tasks?token={TOKEN}")
            bar = page.locator("td[data-progress] progress")
            expect(bar).to_have_attribute("value", "0.25")
            page.goto(f"{server.url}/tasks/{ref.id}")
            expect(page.locator("[data-progress] .figures")).to_have_text("1 of 4 (25%)")
            expect(page.locator("[data-progress-note]")).to_have_text("first of four")
            STEP.set()  # the page reloads itself once the progress moves on
            expect(page.locator("[data-progress] .figures")).to_have_text("3 of 4 (75%)")
            expect(page.locator("[data-progress-note]")).to_have_text(SCRIPT)  # as text
            DONE.set()
            expect(page.locator("[data-result]")).to_contain_text('"total": 42')
            expect(page.locator("[data-result]")).to_contain_text("<script>")
            assert page.evaluate("window.__xss") is None
        finally:
            worker.stop()
    assert basket.result(ref.id, timeout=5) == {"total": 42, "label": SCRIPT}
    assert errors == []
