"""Flow control on every store: a paused queue gives no task to any claim, and claims
respect queue and task limits (per limit_key), counted from live leases, so a slot held
by a dead worker frees when its lease ends; keys take slots in turn. A bus refuses."""

from __future__ import annotations

import time

import pytest

from taskbasket import Basket
from taskbasket.backends.base import ClaimedTask, ClaimParams, Outcome, OutcomeKind
from taskbasket.worker.limiter import ClaimLimiter
from tests.helpers import wait_for

pytestmark = pytest.mark.needs("flow_control")


def claim(basket: Basket, limiter: ClaimLimiter | None = None, limit: int = 10,
          lease: float = 30.0, queues: list[str] | None = None) -> list[ClaimedTask]:
    """One claim as a worker makes it (its limits worked out by the core's limiter)."""
    limiter = limiter or ClaimLimiter(basket, basket.backend)
    names = sorted(basket.registry)
    claimed = basket.backend.tasks_claim(ClaimParams(
        worker_id="w", names=names, limit=limit, lease_seconds=lease, queues=queues,
        limits=limiter.limits(names)))
    limiter.served(claimed)
    return claimed


def finish(basket: Basket, tasks: list[ClaimedTask]) -> None:
    basket.backend.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in tasks])


def test_paused_queue_gives_no_task_until_resumed(basket: Basket) -> None:
    @basket.task(queue="emails")
    def send() -> None: ...

    @basket.task(queue="other")
    def other() -> None: ...

    send.enqueue()
    other.enqueue()
    basket.pause_queue("emails")
    assert [t.name for t in claim(basket)] == ["other"]
    send.enqueue()
    assert claim(basket) == []
    info = {q.name: q for q in basket.queues()}
    assert info["emails"].paused and not info["other"].paused
    assert info["emails"].counts[next(iter(info["emails"].counts))] >= 1
    basket.resume_queue("emails")
    assert sorted(t.name for t in claim(basket)) == ["send", "send"]


def test_unknown_queue_can_be_paused_before_it_has_tasks(basket: Basket) -> None:
    @basket.task(queue="later")
    def job() -> None: ...

    basket.pause_queue("later")
    job.enqueue()
    assert claim(basket) == []
    basket.resume_queue("later")
    assert len(claim(basket)) == 1


def test_queue_concurrency_holds_and_frees_when_a_task_ends(basket: Basket) -> None:
    @basket.task(queue="q")
    def job(n: int) -> None: ...

    job.enqueue_many([(n,) for n in range(6)])
    basket.configure_queue("q", concurrency=2)
    first = claim(basket)
    assert len(first) == 2
    assert claim(basket) == []
    finish(basket, first[:1])
    assert len(claim(basket)) == 1
    basket.configure_queue("q", concurrency=None)
    assert len(claim(basket)) == 3
    info = {q.name: q for q in basket.queues()}["q"]
    assert (info.concurrency, info.rate_limit) == (None, None)


def test_task_concurrency_applies_per_limit_key(basket: Basket) -> None:
    @basket.task(concurrency=2, limit_key=lambda account, n: f"acct:{account}")
    def sync(account: int, n: int) -> None: ...

    sync.enqueue_many([(account, n) for account in (1, 2, 3) for n in range(5)])
    sync.options(limit_key="acct:1").enqueue(9, 0)  # an explicit key
    claimed = claim(basket, limit=50)
    per_key: dict[str | None, int] = {}
    for task in claimed:
        per_key[task.limit_key] = per_key.get(task.limit_key, 0) + 1
    assert per_key == {"acct:1": 2, "acct:2": 2, "acct:3": 2}
    assert claim(basket, limit=50) == []


def test_task_concurrency_without_key_applies_to_the_name(basket: Basket) -> None:
    @basket.task(concurrency=3)
    def job(n: int) -> None: ...

    @basket.task
    def free(n: int) -> None: ...

    job.enqueue_many([(n,) for n in range(10)])
    free.enqueue_many([(n,) for n in range(4)])
    claimed = claim(basket, limit=50)
    assert sorted(t.name for t in claimed).count("job") == 3
    assert sorted(t.name for t in claimed).count("free") == 4


def test_a_dead_workers_slot_frees_when_its_lease_ends(basket: Basket) -> None:
    @basket.task(concurrency=1)
    def job(n: int) -> None: ...

    job.enqueue_many([(n,) for n in range(3)])
    held = claim(basket, lease=0.5)  # its worker dies: the lease is never extended
    assert len(held) == 1
    assert claim(basket) == []
    wait_for(lambda: len(claim(basket)) == 1, timeout=10, message="the slot freed")


def test_rate_limit_caps_starts_per_window(basket: Basket) -> None:
    @basket.task(rate_limit="3/s")
    def call(n: int) -> None: ...

    call.enqueue_many([(n,) for n in range(10)])
    started = time.monotonic()
    first = claim(basket)
    assert len(first) == 3
    finish(basket, first)  # finished tasks still count as starts in the window
    if time.monotonic() - started < 0.8:
        assert claim(basket) == []
    wait_for(lambda: claim(basket), timeout=10, message="the next window")


def test_queue_rate_limit_is_set_and_lifted(basket: Basket) -> None:
    @basket.task(queue="api")
    def call(n: int) -> None: ...

    call.enqueue_many([(n,) for n in range(10)])
    basket.configure_queue("api", rate_limit="2/m")
    assert len(claim(basket)) == 2
    assert claim(basket) == []
    assert {q.name: q for q in basket.queues()}["api"].rate_limit == "2/m"
    basket.configure_queue("api", rate_limit=None)
    assert len(claim(basket)) == 8


def test_a_quiet_key_is_not_starved_by_a_noisy_one(basket: Basket) -> None:
    @basket.task(concurrency=100, limit_key=lambda key, n: key)
    def job(key: str, n: int) -> None: ...

    job.enqueue_many([("noisy", n) for n in range(300)])
    job.enqueue("quiet", 0)
    limiter = ClaimLimiter(basket, basket.backend)
    keys = [task.limit_key for _ in range(3) for task in claim(basket, limiter, limit=1)]
    assert "quiet" in keys
