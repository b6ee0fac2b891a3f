"""The demo's tasks: quick ones, flaky ones that succeed on a retry, and one that never does."""

from __future__ import annotations

import os
import time

from taskbasket import Basket, current_task

basket = Basket(os.environ.get("TASKBASKET_URL", "sqlite:///.demo/demo.db"))


@basket.task(queue="images")
def resize_image(image_id: int) -> None:
    """A quick task: a millisecond of work."""
    time.sleep(0.001)


@basket.task(queue="emails", max_attempts=4, backoff=0.5)
def send_email(to: str) -> None:
    """Fails on its first attempt for one address in seven, then succeeds on a retry."""
    ctx = current_task()
    if ctx is not None and ctx.attempt == 1 and sum(map(ord, to)) % 7 == 0:
        raise ConnectionError(f"SMTP server busy for {to}")


@basket.task(queue="reports")
async def build_report(report_id: int) -> None:
    """An async task, enqueued with a delay."""
    import asyncio

    await asyncio.sleep(0.005)


@basket.task(queue="emails", max_attempts=3, backoff=0.3)
def charge_expired_card(customer: str) -> None:
    """Always fails: it ends `failed`, with its traceback kept for an operator."""
    raise ValueError(f"card of {customer} expired")
