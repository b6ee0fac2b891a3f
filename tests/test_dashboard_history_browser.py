"""The dashboard's task page shows the task's history in a real browser (headless Debian
Chromium, as in ``test_dashboard_browser``): one row per attempt, newest first, with its
outcome and error line, and the edit and retry that changed the task."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from taskbasket import Basket, ConstantBackoff, Snooze, State
from taskbasket.dashboard import create_app
from tests.helpers import wait_for
from tests.test_dashboard_browser import SCRIPT, TOKEN, LiveServer, page

__all__ = ["page"]


@pytest.fixture
def basket(sqlite_url: str) -> Iterator[Basket]:
    basket = Basket(sqlite_url)
    snoozed: list[str] = []

    @basket.task(max_attempts=2, backoff=ConstantBackoff(0))
    def flaky(to: str) -> None:
        if not snoozed:
            snoozed.append(to)
            raise Snooze(delay=0)
        raise ConnectionError(f"refused {to}")

    try:
        yield basket
    finally:
        basket.close()


def test_the_task_page_shows_the_history(basket: Basket, page: Page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    ref = basket.enqueue("flaky", [SCRIPT])
    worker = basket.worker(concurrency=1, visibility_timeout=10)
    worker.start()
    try:
        wait_for(lambda: (t := basket.get(ref.id)) is not None and t.state is State.FAILED,
                 30, "the task to fail")
    finally:
        worker.stop()
    assert basket.retry(ref.id, kwargs={"to": "fixed"}, args=[], priority=3) == 1
    app = create_app(basket, token=TOKEN, sample_interval=0.2, refresh_seconds=0.5)
    with LiveServer(app) as server:
        page.goto(f"{server.url}/tasks/{ref.id}?token={TOKEN}")
        rows = page.locator("[data-history] tbody tr")
        expect(rows).to_have_count(4)  # newest first: the edit, then attempts 2, 1, 1
        expect(rows.nth(0)).to_contain_text("edited")
        expect(rows.nth(0)).to_contain_text('"priority": 0')
        expect(rows.nth(1)).to_contain_text("failed")
        expect(rows.nth(1)).to_contain_text(f"ConnectionError: refused {SCRIPT}")  # as text
        expect(rows.nth(2)).to_contain_text("retry")
        expect(rows.nth(3)).to_contain_text("snoozed")
        expect(page.locator("[data-snoozes]")).to_have_count(0)  # the retry reset it
        assert page.evaluate("window.__xss") is None
    assert errors == []
