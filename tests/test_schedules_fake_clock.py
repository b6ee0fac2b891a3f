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


def _fired_walls(clock: FakeClock, basket: Basket, hours: int) -> list[str]:
    """Advance ``hours`` a quarter hour at a time, firing and draining; the wall times
    (in Berlin) of the slots that ran."""
    from zoneinfo import ZoneInfo

    walls: list[str] = []
    for _ in range(hours * 4):
        clock.advance(900)
        for _, slot in fire_schedules(basket).ran:
            walls.append(slot.astimezone(ZoneInfo("Europe/Berlin")).strftime("%d %H:%M%z"))
        drain(basket)
    return walls


def test_a_berlin_schedule_across_spring_forward_and_fall_back() -> None:
    clock = FakeClock(datetime(2026, 3, 28, 23, 0, tzinfo=UTC))  # 00:00 in Berlin
    basket = Basket("memory://", clock=clock)

    @basket.periodic("30 2 * * *", timezone="Europe/Berlin")
    def nightly() -> None: ...

    # 02:30 does not exist on 29 March: it runs once, at 03:00 CEST
    assert _fired_walls(clock, basket, 24) == ["29 03:00+0200"]
    clock.advance((datetime(2026, 10, 24, 22, 0, tzinfo=UTC) - clock.now()).total_seconds())
    basket.schedule("nightly", nightly, cron="30 2 * * *", timezone="Europe/Berlin")
    fire_schedules(basket)  # the missed slots of the months between: one run, then on
    drain(basket)
    # 02:30 happens twice on 25 October: it runs once, at the first
    assert _fired_walls(clock, basket, 8) == ["25 02:30+0200"]
