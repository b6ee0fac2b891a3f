"""A workflow on the dashboard, in a real browser (headless Debian Chromium, as in
``test_dashboard_browser``): a task's page links to its workflow; the workflow's page
shows every task with its state, what it waits for and its outcome (text from the store
shown as text), and its form cancels the unfinished tasks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from taskbasket import Basket, chain, group
from taskbasket.dashboard import create_app
from tests.test_dashboard_browser import SCRIPT, TOKEN, LiveServer, page

__all__ = ["page"]


@pytest.fixture
def basket(sqlite_url: str) -> Iterator[Basket]:
    basket = Basket(sqlite_url)

    @basket.task
    def fetch(url: str) -> str:
        return url

    @basket.task
    def size(text: str) -> int:
        return len(text)

    @basket.task
    def total(values: list[int]) -> int:
        return sum(values)

    try:
        yield basket
    finally:
        basket.close()


def test_a_workflow_in_the_browser(basket: Basket, page: Page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    done = chain(basket.get_definition("fetch").s(SCRIPT),
                 group(basket.get_definition("size").s(), basket.get_definition("size").s()),
                 basket.get_definition("total").s()).enqueue()
    basket.worker(concurrency=2).run_until_empty(30)
    pending = chain(basket.get_definition("fetch").s("x"),
                    basket.get_definition("size").s()).enqueue()
    app = create_app(basket, token=TOKEN, sample_interval=0.2, refresh_seconds=0.5)
    with LiveServer(app) as server:
        page.goto(f"{server.url}/tasks/{done.id}?token={TOKEN}")
        page.locator("a[data-workflow]").click()
        expect(page.locator("h1")).to_contain_text(str(done.workflow_id))
        expect(page.locator("[data-workflow-state]")).to_contain_text("succeeded")
        rows = page.locator("tr[data-task]")
        expect(rows).to_have_count(4)
        expect(page.locator("tr[data-state=succeeded]")).to_have_count(4)
        last = page.locator(f"tr[data-task='{done.id}']")
        expect(last.locator("[data-depends] a")).to_have_count(2)
        expect(last.locator("[data-outcome]")).to_have_text(str(2 * len(SCRIPT)))
        first = rows.first
        expect(first.locator("[data-outcome]")).to_contain_text("<script>")  # as text
        assert page.evaluate("window.__xss") is None
        expect(page.locator("button", has_text="Cancel every")).to_have_count(0)

        page.goto(f"{server.url}/workflows/{pending.workflow_id}")
        expect(page.locator("tr[data-state=waiting]")).to_have_count(1)
        page.locator("button", has_text="Cancel every").click()
        expect(page.locator(".notice")).to_contain_text("Cancelled 2 unfinished tasks")
        expect(page.locator("tr[data-state=cancelled]")).to_have_count(2)
    assert errors == []
