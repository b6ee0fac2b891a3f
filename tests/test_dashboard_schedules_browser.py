"""The dashboard's Schedules page in a real browser (headless Debian Chromium, as in
``test_dashboard_browser``): pause, resume, run now and delete, each followed in the store."""

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

    @basket.task
    def nightly_report(day: str) -> None: ...

    @basket.task
    def ping() -> None: ...

    basket.schedule("nightly-report", nightly_report, cron="0 3 * * *",
                    timezone="Europe/Berlin", kwargs={"day": "yesterday"}, overlap="skip")
    basket.schedule("heartbeat", ping, every=30)
    try:
        yield basket
    finally:
        basket.close()


def test_the_schedules_page_pauses_resumes_triggers_and_deletes(
    basket: Basket, page: Page, tmp_path: Path,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    app = create_app(basket, token=TOKEN, sample_interval=0.2, refresh_seconds=0.5)
    with LiveServer(app) as server:
        page.goto(f"{server.url}/?token={TOKEN}")
        page.get_by_role("link", name="Schedules").click()
        expect(page.locator("h1")).to_have_text("Schedules")
        rows = page.locator("tr[data-schedule]")
        expect(rows).to_have_count(2)
        nightly = page.locator('tr[data-schedule="nightly-report"]')
        expect(nightly).to_contain_text("0 3 * * *")
        expect(nightly).to_contain_text("Europe/Berlin")
        expect(page.locator('tr[data-schedule="heartbeat"]')).to_contain_text("every 30")
        page.screenshot(path=str(tmp_path / "schedules.png"), full_page=True)

        page.get_by_role("button", name="Pause nightly-report").click()
        expect(page.locator(".notice")).to_contain_text("paused")
        expect(nightly.locator("[data-paused]")).to_have_text("paused")
        assert basket.get_schedule("nightly-report").paused is True

        page.get_by_role("button", name="Resume nightly-report").click()
        expect(nightly.locator("[data-paused]")).to_have_text("active")
        assert basket.get_schedule("nightly-report").paused is False

        page.get_by_role("button", name="Run now nightly-report").click()
        expect(page.locator(".notice")).to_contain_text("One run of the schedule is queued")
        assert basket.count(name="nightly_report") == 1
        task = basket.list(name="nightly_report")[0]
        assert task.kwargs == {"day": "yesterday"}

        page.get_by_role("button", name="Delete heartbeat").click()
        expect(rows).to_have_count(1)
        assert [s.name for s in basket.schedules()] == ["nightly-report"]
    assert errors == []
