"""``taskbasket.testing.FakeClock``: a clock that moves only when the test moves it."""

from __future__ import annotations

import gc
import math
import threading
from datetime import UTC, datetime, timedelta

import pytest

from taskbasket.errors import ConfigurationError
from taskbasket.testing import FakeClock

START = datetime(2030, 1, 1, tzinfo=UTC)


def test_it_starts_where_it_is_told_and_stands_still() -> None:
    clock = FakeClock(START)
    assert clock.now() == START and clock.now().tzinfo is not None
    assert clock.time() == START.timestamp()
    assert clock.now() == START  # no time passes by itself


def test_by_default_it_starts_at_this_hosts_now() -> None:
    before = datetime.now(UTC)
    clock = FakeClock()
    assert before <= clock.now() <= datetime.now(UTC)
    assert clock.now().utcoffset() == timedelta(0)


def test_advance_moves_it_forward_by_seconds_or_a_timedelta() -> None:
    clock = FakeClock(START)
    clock.advance(3600)
    assert clock.now() == START + timedelta(hours=1)
    clock.advance(timedelta(minutes=1))
    clock.advance(0.5)
    assert clock.time() == START.timestamp() + 3660.5
    clock.advance(0)
    assert clock.time() == START.timestamp() + 3660.5


@pytest.mark.parametrize("amount", [-1, -0.001, math.nan, math.inf, -math.inf,
                                    timedelta(seconds=-1)])
def test_advance_refuses_going_back_or_an_endless_amount(amount: object) -> None:
    clock = FakeClock(START)
    with pytest.raises(ConfigurationError, match="only moves forward"):
        clock.advance(amount)  # type: ignore[arg-type]
    assert clock.now() == START


@pytest.mark.parametrize("amount", ["10", None, True])
def test_advance_refuses_what_is_no_number(amount: object) -> None:
    with pytest.raises(ConfigurationError, match="number of seconds or a timedelta"):
        FakeClock(START).advance(amount)  # type: ignore[arg-type]


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="aware datetime"):
        FakeClock(datetime(2030, 1, 1))


def test_advances_from_many_threads_all_count() -> None:
    clock = FakeClock(START)

    def advance() -> None:
        for _ in range(1000):
            clock.advance(1)

    threads = [threading.Thread(target=advance) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.time() == START.timestamp() + 8000


def test_callbacks_run_after_each_advance_and_a_method_is_held_weakly() -> None:
    clock = FakeClock(START)
    calls: list[float] = []
    clock.on_advance(lambda: calls.append(clock.time()))  # a callback may read the clock

    class Store:
        woken = 0

        def notify(self) -> None:
            Store.woken += 1

    store = Store()
    clock.on_advance(store.notify)
    clock.advance(5)
    assert calls == [START.timestamp() + 5] and Store.woken == 1
    del store
    gc.collect()
    clock.advance(5)
    assert len(calls) == 2 and Store.woken == 1
