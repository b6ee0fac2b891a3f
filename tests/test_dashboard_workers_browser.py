"""The dashboard's Workers page and a task's explanation in a real browser (headless
Debian Chromium, as in ``test_dashboard_browser``): a running worker is listed with its
busy slots, a task says why it waits, and a stopped worker's row goes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from taskbasket import Basket, State
from taskbasket.dashboard import create_app
from tests.helpers import wait_for
from tests.test_dashboard_browser import TOKEN, LiveServer, page

__all__ = ["page"]


@pytest.fixture
def basket(sqlite_url: str) -> Iterator[Basket]:
    basket = Basket(sqlite_url)
    try:
        yield basket
    finally:
        basket.close()


def test_the_workers_page_and_a_tasks_explanation(
    basket: Basket, page: Page, tmp_path: Path,
) -> None:
    release = threading.Event()

    @basket.task(queue="reports")
    def build_report() -> None:
        release.wait(30)

    running = build_report.enqueue()
    orphan = basket.enqueue("transcode", strict=False, queue="reports")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    app = create_app(basket, token=TOKEN, sample_interval=0.2, refresh_seconds=0.5)
    worker = basket.worker(queues=["reports"], concurrency=3, visibility_timeout=1.5)
    with LiveServer(app) as server, worker:
        wait_for(lambda: basket.get(running.id).state is State.RUNNING  # type: ignore[union-attr]
                 and basket.workers() and basket.workers()[0].busy == 1, 20, "a busy worker")
        page.goto(f"{server.url}/?token={TOKEN}")
        page.get_by_role("link", name="Workers").click()
        expect(page.locator("h1")).to_have_text("Workers")
        row = page.locator(f'tr[data-worker="{worker.worker_id}"]')
        expect(row).to_contain_text("reports")
        expect(row).to_contain_text("build_report")
        expect(row.locator("[data-worker-state]")).to_have_text("live")
        expect(row.locator("[data-busy]")).to_have_text("1 / 3")
        page.screenshot(path=str(tmp_path / "workers.png"), full_page=True)

        page.goto(f"{server.url}/tasks/{orphan.id}")
        explanation = page.locator("[data-explanation]")
        expect(explanation).to_have_attribute("data-explanation", "no_live_worker")
        expect(explanation).to_contain_text("No live worker has a handler for 'transcode'")
        expect(explanation).to_contain_text("serve: build_report")
        page.goto(f"{server.url}/tasks/{running.id}")
        expect(page.locator("[data-explanation]")).to_contain_text(
            f"It is running on worker {worker.worker_id}")
        release.set()
    assert basket.workers() == []
    with LiveServer(app) as server:
        page.goto(f"{server.url}/workers?token={TOKEN}")
        expect(page.locator(".empty")).to_contain_text("No worker is registered")
    assert errors == []
