"""The ``memory://`` store itself: its URLs (shared by name, private without one), its
options, and its clock (a FakeClock makes delays, backoffs and leases come due at once).
Everything else it does is checked by the conformance suite, like every store's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from taskbasket import Basket, State
from taskbasket.backends import open_backend
from taskbasket.backends.base import (
    ClaimParams,
    LeasesExpiredParams,
    NewTask,
    Outcome,
    OutcomeKind,
    PromoteParams,
)
from taskbasket.backends.memory import MemoryBackend, drop_store, store_names
from taskbasket.errors import ConfigurationError
from taskbasket.ids import new_task_id
from taskbasket.testing import FakeClock
from tests.helpers import wait_for

START = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def backend(clock: FakeClock) -> Iterator[MemoryBackend]:
    found = open_backend("memory://", clock=clock)
    assert isinstance(found, MemoryBackend)
    yield found
    found.close()


def new_task(**fields: object) -> NewTask:
    values: dict[str, object] = {"id": new_task_id(), "name": "job", "queue": "default",
                                 "payload": "{}"}
    values.update(fields)
    return NewTask(**values)  # type: ignore[arg-type]


def claim(backend: MemoryBackend, lease_seconds: float = 30.0) -> list[str]:
    return [t.id for t in backend.tasks_claim(ClaimParams("w", None, 10, lease_seconds))]


def test_the_store_reads_its_clock(backend: MemoryBackend, clock: FakeClock) -> None:
    assert backend.now() == START
    [ref] = backend.tasks_insert([new_task()])
    stored = backend.tasks_get(ref.id)
    assert stored is not None and stored.created_at == START  # type: ignore[union-attr]
    clock.advance(10)
    assert backend.now() == clock.now()


def test_a_delayed_task_is_claimable_only_once_the_clock_reaches_it(
    backend: MemoryBackend, clock: FakeClock
) -> None:
    [ref] = backend.tasks_insert([new_task(delay=3600)])
    assert claim(backend) == []
    clock.advance(3599)
    assert claim(backend) == []
    assert backend.tasks_promote(PromoteParams()) == 0
    clock.advance(1)
    assert backend.tasks_promote(PromoteParams()) == 1
    assert backend.tasks_get(ref.id).state is State.QUEUED  # type: ignore[union-attr]
    assert claim(backend) == [ref.id]


def test_a_retrys_backoff_ends_only_when_the_clock_passes_it(
    backend: MemoryBackend, clock: FakeClock
) -> None:
    backend.tasks_insert([new_task()])
    [task] = backend.tasks_claim(ClaimParams("w", None, 1, 30))
    assert backend.tasks_finish([Outcome(task.lease, OutcomeKind.RETRY, error="again",
                                         retry_delay=60)]) == [True]
    assert claim(backend) == []
    clock.advance(59.5)
    assert claim(backend) == []
    clock.advance(0.5)
    assert claim(backend) == [task.id]


def test_a_lease_expires_only_when_the_clock_passes_its_end(
    backend: MemoryBackend, clock: FakeClock
) -> None:
    backend.tasks_insert([new_task()])
    [task_id] = claim(backend, lease_seconds=30)
    clock.advance(30)
    assert backend.leases_expired(LeasesExpiredParams()) == []  # ends at 30 s, not before
    clock.advance(0.01)
    [expired] = backend.leases_expired(LeasesExpiredParams())
    assert expired.id == task_id


def test_a_worker_waiting_for_work_is_woken_by_the_clock(clock: FakeClock) -> None:
    basket = Basket("memory://", clock=clock)
    ran: list[int] = []

    @basket.task
    def job(n: int) -> None:
        ran.append(n)

    ref = job.options(delay=3600).enqueue(1)
    worker = basket.worker(concurrency=1, poll_interval=60, visibility_timeout=3600)
    worker.start()
    try:
        time.sleep(0.3)  # the worker found nothing due and waits (a minute, unwoken)
        assert ran == [] and basket.get(ref.id).state is State.SCHEDULED  # type: ignore[union-attr]
        clock.advance(3600)
        wait_for(lambda: ran == [1], 10, "the task due after the advance to run")
    finally:
        worker.stop()
        basket.close()


def test_a_named_store_is_shared_by_everything_that_opens_its_url() -> None:
    url = "memory://test-shared-store"
    first, second = Basket(url), Basket(url)
    try:
        ref = first.enqueue("job")
        assert second.get(ref.id) is not None
        first.close()
        assert Basket(url).get(ref.id) is not None  # closing keeps the store
        assert "test-shared-store" in store_names()
    finally:
        second.close()
        assert drop_store("test-shared-store") is True
    assert Basket(url).get(ref.id) is None  # dropped: a new, empty store
    assert drop_store("test-shared-store") is True and not drop_store("test-shared-store")


def test_a_store_without_a_name_is_private_to_its_opening() -> None:
    first, second = Basket("memory://"), Basket("memory://")
    ref = first.enqueue("job")
    assert first.get(ref.id) is not None
    assert second.get(ref.id) is None
    assert Basket("memory://").count() == 0


def test_a_named_store_keeps_the_clock_it_was_made_with(clock: FakeClock) -> None:
    url = "memory://test-clocked-store"
    try:
        made = open_backend(url, clock=clock)
        assert open_backend(url).now() == START  # opened without one: the store's clock
        assert open_backend(url, clock=clock).now() == made.now()
        with pytest.raises(ConfigurationError, match="another clock"):
            open_backend(url, clock=FakeClock())
    finally:
        drop_store("test-clocked-store")


def test_unknown_options_are_refused_with_the_nearest_name() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'clock'"):
        open_backend("memory://", clok=FakeClock())
    with pytest.raises(ConfigurationError, match="did you mean 'clock'"):
        open_backend("memory://?clocks=1")
    with pytest.raises(ConfigurationError, match="keyword argument, not in the URL"):
        open_backend("memory://?clock=fake")
    with pytest.raises(ConfigurationError, match="clock object"):
        open_backend("memory://", clock=object())


def test_it_is_one_process_store_that_needs_no_migration(backend: MemoryBackend) -> None:
    capabilities = backend.capabilities
    assert not capabilities.shared_between_processes and not capabilities.multi_host
    assert capabilities.many_workers and capabilities.server_clock
    assert capabilities.leader_lock and capabilities.created_order
    backend.migrate()  # nothing to do, and harmless


def test_claims_stay_cheap_with_many_tasks(backend: MemoryBackend) -> None:
    """A claim pops what it takes: 20,000 tasks behind 1,000 claims of 10."""
    backend.tasks_insert([new_task() for _ in range(20_000)])
    backend.tasks_insert([new_task(delay=3600, priority=5) for _ in range(5_000)])
    started = time.monotonic()
    for _ in range(1000):
        assert len(backend.tasks_claim(ClaimParams("w", ["job"], 10, 30))) == 10
    assert time.monotonic() - started < 10  # a scan per claim takes minutes here


def test_rebuilt_indexes_lose_nothing(monkeypatch: pytest.MonkeyPatch,
                                      backend: MemoryBackend, clock: FakeClock) -> None:
    """With no slack the heaps are rebuilt over and over while tasks are claimed, retried,
    released, finished and deleted: every task is still claimed exactly when due."""
    from taskbasket.backends.memory import store as store_module

    monkeypatch.setattr(store_module, "_COMPACT_SLACK", 0)
    refs = backend.tasks_insert([new_task(priority=n % 3) for n in range(300)])
    backend.tasks_insert([new_task(delay=100) for _ in range(50)])
    seen: list[str] = []
    for round_number in range(100):
        claimed = backend.tasks_claim(ClaimParams("w", None, 5, 30))
        outcomes = []
        for index, task in enumerate(claimed):
            kind = (OutcomeKind.RETRY, OutcomeKind.RELEASED, OutcomeKind.SUCCEEDED)[
                (round_number + index) % 3]
            outcomes.append(Outcome(task.lease, kind, error="x", retry_delay=1000))
            if kind is OutcomeKind.SUCCEEDED:
                seen.append(task.id)
        assert all(backend.tasks_finish(outcomes))
    assert backend.store._entries <= 2 * len(backend.store.tasks)  # rebuilt, not piling up
    clock.advance(2000)
    while claimed := backend.tasks_claim(ClaimParams("w", None, 50, 30)):
        assert all(backend.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED)
                                         for t in claimed]))
        seen.extend(t.id for t in claimed)
    assert len(seen) == len(set(seen)) == 350
    assert {r.id for r in refs} <= set(seen)
    assert backend.tasks_stats() == {("default", State.SUCCEEDED): 350}
