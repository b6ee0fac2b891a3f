"""The process executor's protocol with its children: a reply is taken only as the reply
to the attempt it names, and anything else kills the child and fails that attempt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from taskbasket import Basket
from taskbasket.worker import processes
from tests.apps import cpuapp, liarapp
from tests.helpers import wait_for


@pytest.fixture
def lying_basket(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Basket]:
    """A basket whose process tasks run in children that break the protocol (the child's
    main is imported by name in the spawned child, so the patch reaches it)."""
    monkeypatch.setattr(processes, "_child_main", liarapp.lying_child_main)
    basket = Basket(sqlite_url)
    for name in ("crunch", "refuse", "explode"):
        definition = cpuapp.basket.registry[name]
        basket.task(name=name, executor="process", max_attempts=1)(definition.func)
    yield basket
    basket.close()


def test_a_reply_for_another_task_is_refused(lying_basket: Basket) -> None:
    before = lying_basket.enqueue("crunch", args=[0])
    lied = lying_basket.enqueue("refuse")
    after = lying_basket.enqueue("crunch", args=[0])
    lying_basket.worker(concurrency=1, processes=1, visibility_timeout=10).run_until_empty(90)
    task = lying_basket.get(lied.id)
    assert task is not None and task.state == "failed"  # never recorded as succeeded
    error = task.last_error or ""
    assert f"answered for task {liarapp.STALE_ID}" in error and lied.id in error
    assert "killed and replaced" in error
    for ref in (before, after):  # the tasks around it ran in good order
        assert lying_basket.get(ref.id).state == "succeeded"  # type: ignore[union-attr]


def test_an_unreadable_reply_kills_the_child_and_fails_only_that_attempt(
    lying_basket: Basket,
) -> None:
    garbled = lying_basket.enqueue("explode")
    after = lying_basket.enqueue("crunch", args=[0])
    lying_basket.worker(concurrency=1, processes=1, visibility_timeout=10).run_until_empty(90)
    task = lying_basket.get(garbled.id)
    assert task is not None and task.state == "failed"
    assert "could not be read" in (task.last_error or "")
    assert "killed and replaced" in (task.last_error or "")
    assert lying_basket.get(after.id).state == "succeeded"  # type: ignore[union-attr]


def test_a_durable_step_in_a_process_handler_fails_naming_the_executor(
        sqlite_url: str) -> None:
    basket = Basket(sqlite_url)
    definition = cpuapp.basket.registry["stepped"]
    basket.task(name=definition.name, executor="process", max_attempts=1)(definition.func)
    ref = basket.enqueue(definition.name)
    worker = basket.worker(concurrency=1, processes=1, visibility_timeout=10)
    worker.start()
    try:
        wait_for(lambda: (t := basket.get(ref.id)) is not None and t.state == "failed", 60,
                 "the stepped task to fail")
    finally:
        worker.stop()
        basket.close()
    error = basket.get(ref.id).last_error or ""  # type: ignore[union-attr]
    assert "UnsupportedOperationError" in error and "process-executor" in error
