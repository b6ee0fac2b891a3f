"""``basket.unregister(name)``: a running worker forgets a handler from its next claim."""

from __future__ import annotations

from typing import Any

import pytest

from taskbasket import Basket, State
from taskbasket.backends.base import Backend, ClaimedTask, ClaimParams
from tests.helpers import wait_for

# outcomes are checked on the stored tasks
pytestmark = pytest.mark.needs("task_records")


@pytest.mark.needs("task_records")
def test_a_running_worker_stops_claiming_an_unregistered_name(store_url: str) -> None:
    producer, consumer = Basket(store_url), Basket(store_url)
    ran: list[str] = []
    for basket in (producer, consumer):
        @basket.task(name="send_email")
        def send_email(n: int) -> None:
            ran.append(f"send_email {n}")

        @basket.task(name="resize")
        def resize(n: int) -> None:
            ran.append(f"resize {n}")

    worker = consumer.worker(concurrency=2, poll_interval=0.05)
    worker.start()
    try:
        first = producer.enqueue("send_email", args=[1])
        wait_for(lambda: consumer.get(first.id).state == State.SUCCEEDED,  # type: ignore[union-attr]
                 30, "the first send_email")
        forgotten = consumer.unregister("send_email")
        assert forgotten.name == "send_email" and "send_email" not in consumer.registry
        assert worker.names == ["resize"]
        later = producer.enqueue("send_email", args=[2])
        after = producer.enqueue("resize", args=[3])  # same priority, enqueued later
        wait_for(lambda: consumer.get(after.id).state == State.SUCCEEDED,  # type: ignore[union-attr]
                 30, "the resize enqueued after send_email")
        task = consumer.get(later.id)
        assert task is not None and task.state == State.QUEUED and task.attempts == 0
        assert ran == ["send_email 1", "resize 3"]
    finally:
        worker.stop()
        producer.close()
        consumer.close()


class ForgetDuringClaim:
    """The real store, whose claim unregisters a handler as it returns: the race where
    ``unregister`` runs while a claim of that name is on its way."""

    def __init__(self, backend: Backend, basket: Basket, name: str) -> None:
        self._backend = backend
        self._basket = basket
        self._name = name

    def tasks_claim(self, params: ClaimParams) -> list[ClaimedTask]:
        claimed = self._backend.tasks_claim(params)
        self._basket.unregister(self._name)
        return claimed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


@pytest.mark.needs("task_records")
def test_a_task_claimed_as_its_handler_is_unregistered_goes_back_unattempted(
    basket: Basket,
) -> None:
    @basket.task
    def send_email(n: int) -> None:
        raise AssertionError("an unregistered handler must not run")

    @basket.task
    def resize(n: int) -> None: ...

    ref = send_email.enqueue(1)
    worker = basket.worker(concurrency=2)
    worker.backend = ForgetDuringClaim(basket.backend, basket, "send_email")  # type: ignore[assignment]
    assert worker.run_once() == 0  # claimed, then handed back: nothing to run
    task = basket.get(ref.id)
    assert task is not None and task.state == State.QUEUED and task.attempts == 0
    assert worker.stats["released"] == 1 and worker.in_flight == 0 and worker.free_slots == 2


def test_unregister_of_an_unknown_name_raises_lookup_error_with_close_matches(
    basket: Basket,
) -> None:
    @basket.task
    def send_email() -> None: ...

    with pytest.raises(LookupError, match=r"'sned_email'.*Did you mean 'send_email'"):
        basket.unregister("sned_email")
    basket.unregister("send_email")
    with pytest.raises(LookupError, match="no task named 'send_email'"):
        basket.unregister("send_email")
