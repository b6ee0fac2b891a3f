"""The dashboard's Queues page in a real browser (headless Debian Chromium, as in
``test_dashboard_browser``): pause, resume and set limits, each followed in the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from taskbasket import Basket
from taskbasket.dashboard import create_app
from tests.test_dashboard_browser import TOKEN, LiveServer, page

__all__ = ["page"]


@pytest.fixture
def basket(sqlite_url: str) -> Iterator[Basket]:
    basket = Basket(sqlite_url)

    @basket.task(queue="emails")
    def send(n: int) -> None: ...

    send.enqueue_many([(n,) for n in range(3)])
    try:
        yield basket
    finally:
        basket.close()


def _emails(basket: Basket) -> tuple[bool, int | None, str | None]:
    (info,) = [q for q in basket.queues() if q.name == "emails"]
    return info.paused, info.concurrency, info.rate_limit


def test_the_queues_page_pauses_resumes_and_sets_limits(
    basket: Basket, page: Page, tmp_path: Path,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    app = create_app(basket, token=TOKEN, sample_interval=0.2, refresh_seconds=0.5)
    with LiveServer(app) as server:
        page.goto(f"{server.url}/?token={TOKEN}")
        page.get_by_role("link", name="Queues").click()
        expect(page.locator("h1")).to_have_text("Queues")
        emails = page.locator('tr[data-queue="emails"]')
        expect(emails).to_contain_text("3")
        expect(emails.locator("[data-paused]")).to_have_text("active")

        page.get_by_role("button", name="Pause emails").click()
        expect(page.locator(".notice")).to_contain_text("paused")
        expect(emails.locator("[data-paused]")).to_have_text("paused")
        assert _emails(basket) == (True, None, None)

        page.get_by_role("button", name="Resume emails").click()
        expect(emails.locator("[data-paused]")).to_have_text("active")
        assert _emails(basket)[0] is False

        page.get_by_label("Concurrency of emails").fill("2")
        page.get_by_label("Rate limit of emails").fill("10/s")
        page.get_by_role("button", name="Set limits of emails").click()
        expect(emails.locator("[data-limits]")).to_have_text("2 at once, 10/s")
        assert _emails(basket) == (False, 2, "10/s")
        page.screenshot(path=str(tmp_path / "queues.png"), full_page=True)

        page.get_by_label("Rate limit of emails").fill("ten per second")
        page.get_by_role("button", name="Set limits of emails").click()
        expect(page.locator("body")).to_contain_text("rate_limit")
        assert _emails(basket) == (False, 2, "10/s")  # nothing changed

        page.goto(f"{server.url}/queues")
        page.get_by_label("Concurrency of emails").fill("")
        page.get_by_label("Rate limit of emails").fill("")
        page.get_by_role("button", name="Set limits of emails").click()
        expect(emails.locator("[data-limits]")).to_have_text("-")
        assert _emails(basket) == (False, None, None)
    assert errors == []
