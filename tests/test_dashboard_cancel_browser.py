"""Cancelling a running task from its dashboard page, in a real browser (headless Debian
Chromium, as in ``test_dashboard_browser``): the Cancel button asks first, the attempt is
stopped where it runs, and the page shows the task cancelled with the dashboard's reason."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Dialog, Page, expect

from taskbasket import Basket, TaskCancelled, current_task
from taskbasket.dashboard import create_app
from taskbasket.task import State
from tests.test_dashboard_browser import TOKEN, LiveServer, page

__all__ = ["page"]

STARTED = threading.Event()
STOPPED = threading.Event()


@pytest.fixture
def basket(sqlite_url: str) -> Iterator[Basket]:
    basket = Basket(sqlite_url)

    @basket.task
    def export(report: int) -> None:
        ctx = current_task()
        assert ctx is not None
        STARTED.set()
        try:
            while True:
                ctx.raise_if_cancelled()
                STOPPED.wait(0.01)
        except TaskCancelled:
            STOPPED.set()
            raise

    STARTED.clear()
    STOPPED.clear()
    try:
        yield basket
    finally:
        STOPPED.set()
        basket.close()


def test_cancel_a_running_task_from_its_page(basket: Basket, page: Page) -> None:
    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    ref = basket.enqueue("export", [7])
    app = create_app(basket, token=TOKEN, sample_interval=0.2, refresh_seconds=0.5)
    worker = basket.worker(concurrency=1, visibility_timeout=120)  # no heartbeat meanwhile
    with LiveServer(app) as server:
        worker.start()
        try:
            assert STARTED.wait(20), "the handler never started"
            page.goto(f"{server.url}/tasks/{ref.id}?token={TOKEN}")
            expect(page.locator("[data-state]")).to_have_text("running")
            page.locator("button[data-cancel]").click()
            expect(page.locator(".notice")).to_contain_text("The task is cancelled.")
            expect(page.locator("[data-state]")).to_have_text("cancelled")
            expect(page.locator("[data-last-error]")).to_have_text(
                "cancelled from the dashboard")
            expect(page.locator("button[data-cancel]")).to_have_count(0)
            assert STOPPED.wait(10), "the running handler was not told"
        finally:
            worker.stop(grace_period=5)
    task = basket.get(ref.id)
    assert task is not None and task.state is State.CANCELLED and task.result is None
    assert dialogs == ["Cancel this task? Its running attempt is stopped now."]
    assert errors == []
