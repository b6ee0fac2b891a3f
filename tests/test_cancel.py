"""The cancel's pieces that need no worker: TaskCancelled, the reason's checks, the
cancelled event's reason, and a TaskContext's cancel flag."""

from __future__ import annotations

import pytest

import taskbasket
from taskbasket import Basket, ConfigurationError, Event, TaskCancelled, TaskContext
from taskbasket.context import CancelSignal


def test_task_cancelled_is_no_exception_and_carries_its_reason() -> None:
    assert taskbasket.TaskCancelled is TaskCancelled
    assert issubclass(TaskCancelled, BaseException)
    assert not issubclass(TaskCancelled, Exception)
    assert TaskCancelled("the order was withdrawn").reason == "the order was withdrawn"
    assert TaskCancelled().reason == "cancelled"


def test_a_context_tells_and_raises_once_its_signal_is_set() -> None:
    signal = CancelSignal()
    context = TaskContext("id", "job", "default", 1, 3, {}, None, signal)
    assert not context.cancelled
    context.raise_if_cancelled()  # not cancelled: returns
    signal.set("stop now")
    signal.set("a second cancel keeps the first reason")
    assert context.cancelled
    with pytest.raises(TaskCancelled) as raised:
        context.raise_if_cancelled()
    assert raised.value.reason == "stop now"
    bare = TaskContext("id", "job", "default", 1, 3)  # made by hand: never cancelled
    assert not bare.cancelled
    bare.raise_if_cancelled()


@pytest.mark.parametrize(("reason", "message"), [
    (42, "must be a str"), ("  ", "reason is empty"), ("x" * 2001, "2001 characters"),
])
def test_a_bad_reason_is_refused_and_cancels_nothing(reason: object, message: str) -> None:
    with Basket("memory://") as basket:
        @basket.task
        def job() -> None: ...

        ref = job.enqueue()
        with pytest.raises(ConfigurationError, match=message):
            basket.cancel(ref.id, reason=reason)  # type: ignore[arg-type]
        assert basket.get(ref.id).state == "queued"  # type: ignore[union-attr]


def test_the_cancelled_event_carries_the_reason() -> None:
    seen: list[Event] = []
    with Basket("memory://") as basket:
        @basket.task
        def job() -> None: ...

        basket.on("cancelled")(seen.append)
        ref = job.enqueue()
        assert basket.cancel(ref.id, reason="no longer wanted") == 1
        assert [(e.task_id, e.error) for e in seen] == [(ref.id, "no longer wanted")]
        assert basket.get(ref.id).last_error == "no longer wanted"  # type: ignore[union-attr]
