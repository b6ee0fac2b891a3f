"""Schedules on a FakeClock: ``fire_schedules`` fires the slots the clock reaches, and
``drain`` runs them, with the handler seeing its schedule and slot."""

from __future__ import annotations

from datetime import UTC, datetime

from taskbasket import Basket, current_task
from taskbasket.testing import FakeClock, drain, fire_schedules


def test_the_nightly_report_runs_at_three_and_once() -> None:
    clock = FakeClock(datetime(2026, 1, 1, 2, 59, tzinfo=UTC))
    basket = Basket("memory://", clock=clock)
    seen: list[tuple[str | None, datetime | None]] = []

    @basket.task
    def report(day: str) -> None:
        context = current_task()
        assert context is not None
        seen.append((context.schedule, context.slot))

    @basket.periodic(every=3600)
    def hourly() -> None: ...

    basket.schedule("nightly", report, cron="0 3 * * *", kwargs={"day": "yesterday"})
    assert fire_schedules(basket).ran == []
    assert [s.name for s in basket.schedules()] == ["hourly", "nightly"]
    clock.advance(60)
    assert sorted(name for name, _ in fire_schedules(basket).ran) == ["hourly", "nightly"]
    assert fire_schedules(basket).ran == []
    assert drain(basket).succeeded == 2
    assert seen == [("nightly", datetime(2026, 1, 1, 3, tzinfo=UTC))]
    clock.advance(86400 * 3)  # three days later, the default catch-up runs the latest once
    assert sorted(name for name, _ in fire_schedules(basket).ran) == ["hourly", "nightly"]
    assert drain(basket).succeeded == 2
    assert seen[-1] == ("nightly", datetime(2026, 1, 4, 3, tzinfo=UTC))
