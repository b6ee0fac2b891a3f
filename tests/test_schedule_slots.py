"""Schedule slots with real IANA zones (DST both ways) and the errors of bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from taskbasket import Basket
from taskbasket.errors import ConfigurationError
from taskbasket.schedules.slots import latest_slot, next_slot
from taskbasket.schedules.spec import ScheduleSpec

BERLIN = ZoneInfo("Europe/Berlin")


def walk(spec: ScheduleSpec, start: datetime, count: int) -> list[str]:
    slots, moment = [], start
    for _ in range(count):
        moment = next_slot(spec, moment)
        slots.append(moment.astimezone(spec.zone).strftime("%m-%d %H:%M%z"))
    return slots


@pytest.mark.parametrize("cron", ["30 2 * * *", "0 30 2 * * *"])
def test_a_slot_in_the_skipped_hour_runs_once_at_the_next_valid_time(cron: str) -> None:
    spec = ScheduleSpec.of(cron=cron, timezone="Europe/Berlin")
    assert walk(spec, datetime(2026, 3, 28, 12, tzinfo=BERLIN), 2) == [
        "03-29 03:00+0200", "03-30 02:30+0200"]


def test_slots_of_a_skipped_hour_collapse_into_one() -> None:
    spec = ScheduleSpec.of(cron="*/30 * * * *", timezone="Europe/Berlin")
    assert walk(spec, datetime(2026, 3, 29, 1, 0, tzinfo=BERLIN), 3) == [
        "03-29 01:30+0100", "03-29 03:00+0200", "03-29 03:30+0200"]


@pytest.mark.parametrize("cron", ["30 2 * * *", "0 30 2 * * *"])
def test_a_slot_in_the_repeated_hour_runs_once(cron: str) -> None:
    spec = ScheduleSpec.of(cron=cron, timezone="Europe/Berlin")
    assert walk(spec, datetime(2026, 10, 24, 12, tzinfo=BERLIN), 2) == [
        "10-25 02:30+0200", "10-26 02:30+0100"]
    # a scheduler asked during the second 02:30 finds the first one as the latest slot
    second = datetime(2026, 10, 25, 1, 45, tzinfo=UTC)  # 02:45+01:00
    latest = latest_slot(spec, second)
    assert latest is not None and latest.astimezone(BERLIN).utcoffset() == timedelta(hours=2)


def test_new_york_and_an_interval_anchored_at_the_epoch() -> None:
    spec = ScheduleSpec.of(cron="0 9 * * 1-5", timezone="America/New_York")
    slot = next_slot(spec, datetime(2026, 3, 6, 15, tzinfo=UTC))  # a Friday, after 9:00
    assert slot.astimezone(spec.zone).strftime("%a %H:%M") == "Mon 09:00"
    every = ScheduleSpec.of(every=timedelta(seconds=30))
    moment = datetime(2026, 1, 1, 0, 0, 10, 123, tzinfo=UTC)
    assert next_slot(every, moment) == datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert latest_slot(every, moment) == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("options", "message"), [
    ({"cron": "61 * * * *"}, r"cron='61 \* \* \* \*' is invalid: Bad minute"),
    ({"cron": "* * *"}, "cron=.* has 3 fields"),
    ({"every": 0.5}, "every=0.5 is under a second"),
    ({}, "exactly one of cron= .* got neither"),
    ({"cron": "* * * * *", "every": 5}, "got both"),
    ({"every": 5, "timezone": "Mars/Olympus"}, "timezone='Mars/Olympus' is not a known"),
    ({"every": 5, "timezone": "Europe"}, "timezone='Europe' is not a known"),
    ({"every": 5, "overlap": "queue"}, "overlap='queue' is unknown"),
    ({"every": 5, "catch_up": "some"}, "catch_up='some' is unknown"),
])
def test_bad_input_names_the_field(options: dict[str, object], message: str) -> None:
    basket = Basket("memory://")
    basket.task(name="job")(lambda: None)
    with pytest.raises(ConfigurationError, match=message):
        basket.schedule("tick", "job", **options)  # type: ignore[arg-type]


def test_a_task_that_is_not_registered_is_refused() -> None:
    basket = Basket("memory://")
    basket.task(name="job")(lambda: None)
    with pytest.raises(LookupError, match=r"no task named 'jobs'.*Did you mean 'job'"):
        basket.schedule("tick", "jobs", every=5)


def test_cron_without_the_library_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "cronsim", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'taskbasket\[schedules\]'"):
        ScheduleSpec.of(cron="* * * * *")
    assert ScheduleSpec.of(every=5).every == 5
