"""Leader election and the maintenance services, stepped by hand on every store."""

from __future__ import annotations

import pytest

from taskbasket import Basket, Event, State
from taskbasket.backends.base import LeaderLock, LeaderParams
from taskbasket.maintenance import Maintenance, Pruner, Rescuer, Stager
from tests.conformance.test_enqueue import claim
from tests.conformance.test_maintenance import SHORT, _expired, _finished
from tests.helpers import wait_for

pytestmark = pytest.mark.needs("lease_expiry")  # maintenance and its leader run only on stores


def _lock(basket: Basket) -> LeaderLock:
    if not basket.backend.capabilities.leader_lock:
        pytest.skip(f"{type(basket.backend).__name__} has no leader lock: every process "
                    "runs maintenance")
    assert isinstance(basket.backend, LeaderLock)
    return basket.backend


def test_one_holder_leads_until_it_resigns(basket: Basket) -> None:
    lock = _lock(basket)
    a, b = LeaderParams("maintenance", "a", 30), LeaderParams("maintenance", "b", 30)
    assert lock.leader_try(a) is True
    assert lock.leader_try(b) is False
    assert lock.leader_try(a) is True  # a renewal
    assert lock.leader_try(LeaderParams("other", "b", 30)) is True  # names are separate
    lock.leader_resign(b)  # b does not lead: nothing changes
    assert lock.leader_try(b) is False
    lock.leader_resign(a)
    assert lock.leader_try(b) is True
    assert lock.leader_try(a) is False


def test_a_term_that_runs_out_is_taken_over(basket: Basket) -> None:
    lock = _lock(basket)
    assert lock.leader_try(LeaderParams("maintenance", "dies", 0.2)) is True
    assert lock.leader_try(LeaderParams("maintenance", "next", 30)) is False
    wait_for(lambda: lock.leader_try(LeaderParams("maintenance", "next", 30)), 10,
             "the dead leader's term to run out")
    assert lock.leader_try(LeaderParams("maintenance", "dies", 0.2)) is False  # came back


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_only_the_leader_runs_the_services(basket: Basket) -> None:
    _lock(basket)

    @basket.task(max_attempts=3)
    def job() -> None: ...

    clock = _Clock()

    def maintenance(holder: str) -> Maintenance:
        services = [Rescuer(basket.backend, interval=1.0), Stager(basket.backend)]
        return Maintenance(basket.backend, services, holder=holder, leader_ttl=30,
                           clock=clock)

    leader, follower = maintenance("leader"), maintenance("follower")
    assert leader.tick() > 0 and leader.leading
    job.enqueue()
    [lost] = claim(basket, lease=SHORT)
    _expired(basket, 1)
    clock.now += 60
    follower.tick()
    assert not follower.leading
    assert basket.get(lost.id).state == State.RUNNING  # type: ignore[union-attr]
    wait = leader.tick()  # renews its term, then rescues
    assert leader.leading and 0 < wait <= 10
    assert basket.get(lost.id).state == State.QUEUED  # type: ignore[union-attr]
    leader.stop()  # resigns
    clock.now += 60
    follower.tick()
    assert follower.leading
    follower.stop()


@pytest.mark.needs("lease_expiry", "task_records")
def test_the_rescuer_tells_hooks_the_name_and_queue_and_applies_the_backoff(
    basket: Basket,
) -> None:
    events: list[Event] = []
    basket.on("lease_expired", "failed")(events.append)

    @basket.task(queue="emails", max_attempts=2)
    def send(n: int) -> None: ...

    send.enqueue_many([(1,), (2,)])
    first, second = claim(basket, limit=2, lease=SHORT)
    _expired(basket, 2)
    rescuer = Rescuer(basket.backend, hooks=basket.hooks, backoff=lambda lease: 3600.0)
    report = rescuer.run_once()
    assert {t.id for t in report.requeued} == {first.id, second.id} and report.failed == []
    assert [(e.kind, e.name, e.queue, e.attempt, e.max_attempts) for e in events] == [
        ("lease_expired", "send", "emails", 1, 2)] * 2
    assert all(e.next_run_at is not None and e.retry_delay == 3600.0 for e in events)
    assert basket.count(State.RETRYING) == 2  # waiting out the task's backoff
    events.clear()
    send.options(max_attempts=1).enqueue_many([(3,), (4,)])  # on their last attempt
    claim(basket, limit=2, lease=SHORT)
    _expired(basket, 2)
    report = rescuer.run_once()
    assert len(report.failed) == 2 and report.requeued == []
    kinds = sorted(e.kind for e in events)
    assert kinds == ["failed", "failed", "lease_expired", "lease_expired"]
    assert all(e.name == "send" and e.queue == "emails" for e in events)
    assert all("lease expired on attempt 1 of 1" in (e.error or "") for e in events)
    assert basket.count(State.FAILED) == 2


@pytest.mark.needs("lease_expiry", "task_records")
def test_the_pruner_keeps_what_the_retention_keeps(basket: Basket) -> None:
    made = _finished(basket)
    assert Pruner(basket.backend, {}).run_once() == 0
    assert Pruner(basket.backend, {State.SUCCEEDED: 24 * 3600}).run_once() == 0
    assert Pruner(basket.backend, {State.SUCCEEDED: 0, State.CANCELLED: 0},
                  batch=1).run_once() == 4
    assert basket.count() == len(made["failed"]) + 1


@pytest.mark.needs("lease_expiry", "task_records")
def test_worker_retention_option(basket: Basket) -> None:
    _finished(basket)
    assert basket.worker(retention=None).maintain_once().pruned == 0
    assert basket.worker().maintain_once().pruned == 0  # the default keeps a day
    report = basket.worker(retention={"succeeded": 0, "failed": None}).maintain_once()
    assert report.pruned == 3 and basket.count(State.FAILED) == 2
    assert basket.worker(retention="0s").maintain_once().pruned == 3
    assert basket.count() == 1


@pytest.mark.needs("lease_expiry")  # a bus runs no maintenance: it has nothing to lead
def test_one_of_two_workers_leads_and_the_other_takes_over_when_it_stops(
    store_url: str,
) -> None:
    baskets = [Basket(store_url), Basket(store_url)]
    for b in baskets:
        b.task(name="job")(lambda: None)
    workers = [b.worker(visibility_timeout=3, poll_interval=0.1) for b in baskets]
    try:
        for worker in workers:
            worker.start()
        if not baskets[0].backend.capabilities.leader_lock:
            wait_for(lambda: all(w.maintenance.leading for w in workers), 10, "both to lead")
            return
        wait_for(lambda: all(w.maintenance.elector.elections >= 2 for w in workers), 10,
                 "both workers to hold two elections")
        leader = [w for w in workers if w.maintenance.leading]
        assert len(leader) == 1
        other = next(w for w in workers if w is not leader[0])
        leader[0].stop()
        wait_for(lambda: other.maintenance.leading, 10, "the other to take over")
    finally:
        for worker in workers:
            worker.stop()
        for b in baskets:
            b.close()
