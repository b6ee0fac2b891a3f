"""The worker's counters: incremented by four threads, so under a lock; read like a dict."""

from __future__ import annotations

import threading

import pytest

from taskbasket.worker.telemetry import STAT_KEYS, WorkerStats


def test_increments_from_many_threads_are_never_lost() -> None:
    stats = WorkerStats()
    start = threading.Barrier(4)

    def count() -> None:
        start.wait()
        for _ in range(50_000):
            stats.increment("succeeded")
        stats.increment("claimed", 3)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert stats["succeeded"] == 200_000 and stats["claimed"] == 12


def test_stats_read_like_the_dict_they_replace() -> None:
    stats = WorkerStats()
    stats.increment("failed")
    assert dict(stats) == {**dict.fromkeys(STAT_KEYS, 0), "failed": 1} == stats.snapshot()
    assert stats == stats.snapshot() and "failed" in stats and len(stats) == len(STAT_KEYS)
    assert repr(stats) == repr(stats.snapshot())  # the worker's "stopped" log line
    snapshot = stats.snapshot()
    stats.increment("failed")
    assert snapshot["failed"] == 1 and stats["failed"] == 2  # a copy, not a view
    with pytest.raises(KeyError, match="'sucess' is not a worker counter"):
        stats.increment("sucess")
