"""The standalone Pool: the dispatcher seed's cases, autoscaling, and stop semantics."""

from __future__ import annotations

import threading
import time

import pytest

from taskbasket import ConfigurationError
from taskbasket.pool import Pool, PoolStatus
from tests.helpers import wait_for


def test_submit_never_blocks_and_refuses_when_full() -> None:
    pool = Pool(1, 1, buffer=2)
    gate = threading.Event()
    assert pool.submit(gate.wait, 10)  # accepted before run: buffered
    assert pool.submit(gate.wait, 10)
    refused: list[bool] = []
    submitter = threading.Thread(target=lambda: refused.append(pool.submit(gate.wait, 10)))
    submitter.start()
    submitter.join(10)  # no slot frees while the gate is shut: a blocking submit would hang
    assert refused == [False]  # full
    assert pool.status is PoolStatus.STOPPED and pool.queued == 2
    pool.run()
    wait_for(lambda: pool.busy == 1, 5, "the first call to start")
    assert pool.submit(gate.wait, 10)  # one slot freed in the buffer
    gate.set()
    pool.stop()


def test_grows_to_max_under_backlog_and_shrinks_after_idle() -> None:
    pool = Pool(1, 4, buffer=100, idle_timeout=0.3)
    pool.run()
    assert pool.size == 1
    gate = threading.Event()
    for _ in range(10):
        pool.submit(gate.wait, 10)
    wait_for(lambda: pool.size == 4 and pool.busy == 4, 5, "growth to max")
    assert pool.queued == 6
    gate.set()
    wait_for(lambda: pool.queued == 0 and pool.busy == 0, 5, "the backlog to clear")
    wait_for(lambda: pool.size == 1, 5, "shrinking back to min after idle")
    assert pool.completed == 10
    pool.stop()


def test_stop_drain_runs_everything_buffered() -> None:
    done: list[int] = []
    pool = Pool(1, 1, buffer=10)
    pool.run()
    for i in range(5):
        pool.submit(lambda i=i: (time.sleep(0.02), done.append(i)))
    assert pool.stop(drain=True) == []
    assert sorted(done) == [0, 1, 2, 3, 4]
    assert pool.status is PoolStatus.STOPPED and pool.size == 0


def test_stop_without_drain_finishes_only_what_runs() -> None:
    started = threading.Event()
    done: list[int] = []

    def slow(i: int) -> None:
        started.set()
        time.sleep(0.2)
        done.append(i)

    pool = Pool(1, 1, buffer=10)
    pool.run()
    for i in range(4):
        pool.submit(slow, i)
    assert started.wait(5)
    left = pool.stop(drain=False)
    assert done == [0] and len(left) == 3  # the running one finished; three never ran
    for work in left:
        work()
    assert done == [0, 1, 2, 3]  # what stop returned is the untouched callables


def test_status_moves_through_stopping_and_draining() -> None:
    gate = threading.Event()
    seen: set[PoolStatus] = set()
    for drain, expected in ((True, PoolStatus.DRAINING), (False, PoolStatus.STOPPING)):
        gate.clear()
        pool = Pool(1, 1, buffer=5)
        pool.run()
        assert pool.status is PoolStatus.RUNNING
        pool.submit(gate.wait, 10)
        wait_for(lambda: pool.busy == 1, 5, "start")  # noqa: B023
        stopper = threading.Thread(target=pool.stop, kwargs={"drain": drain})
        stopper.start()
        wait_for(lambda: pool.status is expected, 5, f"status {expected}")  # noqa: B023
        seen.add(pool.status)
        assert pool.submit(print) is False  # no new work while stopping
        gate.set()
        stopper.join(5)
        assert pool.status is PoolStatus.STOPPED
    assert seen == {PoolStatus.DRAINING, PoolStatus.STOPPING}


def test_stop_is_safe_many_times_from_many_threads_and_before_any_work() -> None:
    Pool(1, 2).stop()  # never run, nothing submitted
    pool = Pool(2, 4)
    pool.run()
    pool.run()  # re-entrant: does nothing
    assert pool.size == 2
    threads = [threading.Thread(target=pool.stop) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
        assert not thread.is_alive()
    pool.stop()
    assert pool.status is PoolStatus.STOPPED


def test_stop_drain_before_run_runs_the_buffer() -> None:
    done: list[int] = []
    pool = Pool(0, 2, buffer=5)
    pool.submit(done.append, 1)
    pool.submit(done.append, 2)
    pool.stop(drain=True)
    assert sorted(done) == [1, 2]


def test_a_raising_callable_does_not_kill_the_pool() -> None:
    pool = Pool(1, 1)
    pool.run()
    done = threading.Event()
    pool.submit(lambda: 1 / 0)
    pool.submit(done.set)
    assert done.wait(5)
    pool.stop()


def test_abandoned_thread_is_replaced() -> None:
    pool = Pool(1, 1, buffer=5)
    pool.run()
    gate = threading.Event()
    holder: list[threading.Thread] = []

    def hang() -> None:
        holder.append(threading.current_thread())
        gate.wait(10)

    pool.submit(hang)
    wait_for(lambda: holder, 5, "the hanging call")
    ran = threading.Event()
    pool.submit(ran.set)
    pool.abandon(holder[0])
    assert ran.wait(5)  # a new thread took the hung one's place
    assert pool.abandoned_threads == 1 and pool.size == 1
    gate.set()
    pool.stop()


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="min_workers <= max_workers"):
        Pool(5, 2)
    with pytest.raises(ConfigurationError, match="buffer"):
        Pool(1, 1, buffer=0)
