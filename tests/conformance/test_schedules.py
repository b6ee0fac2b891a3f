"""Schedules on every store: stored, fired once per slot by a compare-and-set, with the
overlap, catch-up and pause rules; a bus refuses them, naming itself.

A ``Scheduler`` whose ``now`` is the store's clock moved forward stands for a worker that
comes back after downtime, so no test waits for a real minute to pass.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

import pytest

from taskbasket import Basket
from taskbasket.backends.base import ListParams, ScheduleFireParams, StoredTask, TaskFilter
from taskbasket.codec import decode_payload
from taskbasket.context import SLOT_HEADER, current_task
from taskbasket.schedules import Scheduler
from taskbasket.schedules.operations import slot_task
from tests.helpers import wait_for

pytestmark = pytest.mark.needs("schedules")


def scheduler(basket: Basket, ahead: float = 0.0) -> Scheduler:
    """A scheduler of ``basket``'s tasks whose clock is the store's, ``ahead`` seconds on."""
    backend = basket.backend
    now: Callable[[], datetime] = lambda: backend.now() + timedelta(seconds=ahead)  # noqa: E731
    return Scheduler(backend, names=lambda: list(basket.registry),
                     make_task=partial(slot_task, basket), now=now)


def job_basket(basket: Basket) -> Basket:
    @basket.task(name="job")
    def job(day: str = "") -> None: ...

    return basket


def runs(basket: Basket) -> int:
    return basket.count(name="job")


def test_schedule_is_stored_listed_and_upserted_by_name(basket: Basket) -> None:
    job_basket(basket)
    first = basket.schedule("nightly", "job", cron="0 3 * * *", timezone="Europe/Berlin",
                            kwargs={"day": "yesterday"}, overlap="skip", catch_up="none")
    assert (first.name, first.task, first.cron, first.every, first.timezone) == (
        "nightly", "job", "0 3 * * *", None, "Europe/Berlin")
    assert (first.kwargs, first.overlap, first.catch_up, first.paused) == (
        {"day": "yesterday"}, "skip", "none", False)
    assert first.next_run_at.tzinfo is not None and first.next_run_at.hour == 3
    assert first.next_run_at > basket.backend.now()
    assert (first.last_run_at, first.last_task_id, first.skipped) == (None, None, 0)
    basket.schedule("heartbeat", "job", every=timedelta(seconds=30))
    assert [s.name for s in basket.schedules()] == ["heartbeat", "nightly"]

    same = basket.schedule("nightly", "job", cron="0 3 * * *", timezone="Europe/Berlin",
                           kwargs={"day": "today"})
    assert same.next_run_at == first.next_run_at and same.kwargs == {"day": "today"}
    changed = basket.schedule("nightly", "job", every=7)
    assert changed.every == timedelta(seconds=7) and changed.cron is None
    assert changed.next_run_at - basket.backend.now() <= timedelta(seconds=7)


def test_fire_is_a_compare_and_set_with_the_task_insert(basket: Basket) -> None:
    job_basket(basket)
    schedule = basket.schedule("tick", "job", every=60)
    task = slot_task(basket, schedule, schedule.next_run_at)
    following = schedule.next_run_at + timedelta(seconds=60)
    fire = ScheduleFireParams("tick", schedule.next_run_at, following, schedule.next_run_at,
                              task=task)
    assert basket.backend.schedules_fire(fire) is True
    again = slot_task(basket, schedule, schedule.next_run_at)
    assert basket.backend.schedules_fire(
        ScheduleFireParams("tick", schedule.next_run_at, following, schedule.next_run_at,
                           task=again)) is False
    assert runs(basket) == 1 and basket.get(again.id) is None
    stored = basket.get_schedule("tick")
    assert stored.next_run_at == following
    assert stored.last_task_id == task.id and stored.last_run_at == schedule.next_run_at
    basket.pause_schedule("tick")
    assert basket.backend.schedules_fire(ScheduleFireParams(
        "tick", following, following + timedelta(seconds=60), following)) is False


def test_a_due_slot_fires_once_whatever_the_number_of_schedulers(basket: Basket) -> None:
    job_basket(basket)
    basket.schedule("tick", "job", every=60)
    reports = [scheduler(basket, ahead=61).run_once() for _ in range(3)]
    assert sum(len(report.ran) for report in reports) == 1
    assert runs(basket) == 1
    assert scheduler(basket, ahead=61).run_once().ran == []


def test_catch_up_latest_runs_the_most_recent_missed_slot_once(basket: Basket) -> None:
    job_basket(basket)
    basket.schedule("tick", "job", every=60)
    report = scheduler(basket, ahead=3600).run_once()
    assert len(report.ran) == 1
    slot = report.ran[0][1]
    assert basket.backend.now() + timedelta(seconds=3540) <= slot
    assert runs(basket) == 1
    assert basket.get_schedule("tick").next_run_at > slot


def test_catch_up_none_runs_no_missed_slot(basket: Basket) -> None:
    job_basket(basket)
    first = basket.schedule("tick", "job", every=60, catch_up="none").next_run_at
    # an hour and 30 s after the first slot: the latest slot is 30 s late, so missed too
    ahead = (first - basket.backend.now()).total_seconds() + 3600 + 30
    report = scheduler(basket, ahead=ahead).run_once()
    assert report.ran == [] and len(report.missed) == 1
    assert runs(basket) == 0
    assert basket.get_schedule("tick").next_run_at > basket.backend.now() + timedelta(hours=1)


def test_catch_up_all_runs_each_missed_slot_at_most_100_a_pass(basket: Basket) -> None:
    job_basket(basket)
    basket.schedule("tick", "job", every=60, catch_up="all")
    assert len(scheduler(basket, ahead=30 * 60).run_once().ran) in (29, 30)
    basket.purge()
    basket.schedule("tick", "job", every=1, catch_up="all")
    later = scheduler(basket, ahead=300)
    assert len(later.run_once().ran) == 100
    assert len(later.run_once().ran) == 100
    assert runs(basket) == 200


def test_overlap_skip_skips_while_the_previous_run_is_not_final(basket: Basket) -> None:
    job_basket(basket)
    basket.schedule("tick", "job", every=60, overlap="skip")
    assert len(scheduler(basket, ahead=61).run_once().ran) == 1
    report = scheduler(basket, ahead=121).run_once()
    assert report.ran == [] and len(report.skipped) == 1
    assert basket.get_schedule("tick").skipped == 1
    assert runs(basket) == 1
    basket.cancel(basket.get_schedule("tick").last_task_id)
    assert len(scheduler(basket, ahead=181).run_once().ran) == 1


def test_overlap_allow_runs_every_slot(basket: Basket) -> None:
    job_basket(basket)
    basket.schedule("tick", "job", every=60)
    for minutes in (1, 2, 3):
        scheduler(basket, ahead=60 * minutes + 1).run_once()
    assert runs(basket) == 3


def test_pause_is_durable_and_resume_follows_the_catch_up_rule(basket: Basket) -> None:
    job_basket(basket)
    basket.schedule("tick", "job", every=60)
    assert basket.pause_schedule("tick").paused is True
    other = Basket(basket.url)  # another process's view of the same store
    try:
        job_basket(other)
        assert [s.paused for s in other.schedules()] == [True]
        assert scheduler(other, ahead=3600).run_once().ran == []
        basket.schedule("tick", "job", every=60)  # a worker that writes it again
        assert basket.get_schedule("tick").paused is True
        assert runs(basket) == 0
        assert basket.resume_schedule("tick").paused is False
        assert len(scheduler(other, ahead=3600).run_once().ran) == 1
        assert runs(basket) == 1
    finally:
        other.close()


def test_a_worker_fires_only_schedules_of_its_tasks(basket: Basket) -> None:
    job_basket(basket)
    basket.schedule("tick", "job", every=60)
    producer = Basket(basket.url)
    try:
        producer.task(name="other")(lambda: None)
        assert scheduler(producer, ahead=61).run_once().ran == []
    finally:
        producer.close()
    assert runs(basket) == 0


def test_trigger_delete_and_unknown_names(basket: Basket) -> None:
    job_basket(basket)
    basket.schedule("tick", "job", every=3600, kwargs={"day": "monday"})
    ref = basket.trigger_schedule("tick")
    task = basket.get(ref.id)
    assert task is not None and task.name == "job" and task.kwargs == {"day": "monday"}
    for action in (basket.pause_schedule, basket.resume_schedule, basket.trigger_schedule,
                   basket.delete_schedule, basket.get_schedule):
        with pytest.raises(LookupError, match=r"tock.*Stored: tick"):
            action("tock")
    basket.delete_schedule("tick")
    assert basket.schedules() == []
    assert basket.get(ref.id) is not None  # its tasks stay


def test_a_worker_fires_a_one_second_schedule_and_handlers_see_it(basket: Basket) -> None:
    seen: list[tuple[str | None, datetime | None]] = []
    late: list[float] = []

    @basket.periodic(every=1, timezone="Europe/Berlin")
    def beat() -> None:
        context = current_task()
        assert context is not None and context.slot is not None
        late.append(time.time() - context.slot.timestamp())
        seen.append((context.schedule, context.slot))

    @basket.task
    def plain() -> None:
        context = current_task()
        assert context is not None
        seen.append((context.schedule, context.slot))

    enqueued: list[str] = []
    basket.on("enqueued")(lambda event: enqueued.append(event.name))
    worker = basket.worker(concurrency=2)
    worker.start()
    try:
        wait_for(lambda: len(seen) >= 2, 15, "two runs of a one-second schedule")
        plain.enqueue()
        wait_for(lambda: (None, None) in seen, 15, "a plain task")
    finally:
        worker.stop()
    name, slot = seen[0]
    assert name == "beat" and slot is not None
    assert str(slot.tzinfo) == "Europe/Berlin" and slot.microsecond == 0
    assert [s.name for s in basket.schedules()] == ["beat"]
    slots = [slot for name, slot in seen if name == "beat"]
    assert len(set(slots)) == len(slots)
    assert enqueued.count("beat") >= 2  # a fired slot's task is announced as enqueued
    assert min(late) < 2.5, f"a due slot starts within about a second, not {late}"


def test_schedulers_whose_clocks_are_seconds_apart_fire_each_slot_once(
    basket: Basket,
) -> None:
    job_basket(basket)
    basket.schedule("tick", "job", every=1, catch_up="all")
    for step in range(12):  # host A's clock, and host B's three seconds ahead of it
        for skew in (0.0, 3.0) if step % 2 else (3.0, 0.0):
            scheduler(basket, ahead=step + skew).run_once()
    fired = sorted(_slots_of(basket))
    assert len(fired) == len(set(fired)) >= 12
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(fired))


def _slots_of(basket: Basket) -> list[datetime]:
    """The slot of each stored task of ``job`` (from the headers a slot's task carries)."""
    rows = basket.backend.tasks_list(ListParams(TaskFilter(names=["job"]), limit=1000))
    slots = []
    for row in rows:
        assert isinstance(row, StoredTask)
        headers = decode_payload(row.id, row.payload)[2]
        slots.append(datetime.fromisoformat(headers[SLOT_HEADER]))
    return slots


def test_a_schedule_that_cannot_fire_does_not_stop_the_others(basket: Basket) -> None:
    from taskbasket.schedules.operations import ScheduleDefinition, upsert
    from taskbasket.schedules.spec import ScheduleOptions, ScheduleSpec

    job_basket(basket)
    basket.schedule("good", "job", every=60)
    # written by older code: an argument the handler no longer takes
    upsert(basket.backend, ScheduleDefinition(
        "stale", "job", ScheduleSpec.of(every=60), ScheduleOptions.of("job", (), {"nope": 1})))
    report = scheduler(basket, ahead=61).run_once()
    assert [name for name, _ in report.ran] == ["good"]
    assert basket.get_schedule("stale").last_task_id is None
