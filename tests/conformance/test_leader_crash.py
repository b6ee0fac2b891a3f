"""Real worker processes: a SIGKILLed maintenance leader is replaced within two ttls."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from taskbasket import Basket, State
from tests.helpers import Effects, WorkerProcess, wait_for

# worker processes open the store by its URL
pytestmark = [pytest.mark.slow, pytest.mark.needs("shared_between_processes")]

TTL = 3.0
"""A worker's leader ttl is its visibility timeout (capped at 30 s)."""


def _leads(worker: WorkerProcess) -> bool:
    return re.search(r" leads the maintenance of ", worker.log()) is not None


def test_a_sigkilled_leader_is_replaced_within_two_ttls(
    store_url: str, tmp_path: Path
) -> None:
    effects = Effects(tmp_path / "effects.db")
    args = ("--visibility-timeout", str(TTL), "--concurrency", "1")
    first = WorkerProcess(store_url, effects.path, *args)
    second: WorkerProcess | None = None
    producer = Basket(store_url)
    try:
        first.wait_started()
        if not producer.backend.capabilities.leader_lock:
            pytest.skip("this store has no leader lock: every worker runs maintenance")
        wait_for(lambda: _leads(first), 20, "the first worker to lead")
        second = WorkerProcess(store_url, effects.path, *args)
        second.wait_started()
        first.kill()
        killed = time.monotonic()
        # the new leader's stager promotes a task that no worker claims (no handler)
        ref = producer.enqueue("nobody_runs_this", delay=0.1)
        wait_for(lambda: _leads(second), 2 * TTL, "the second worker to take over")
        took = time.monotonic() - killed
        wait_for(lambda: producer.get(ref.id).state == State.QUEUED,  # type: ignore[union-attr]
                 20, "the new leader to promote the due task")
        print(f"leadership moved {took:.2f}s after the kill (ttl {TTL:g}s)")
    finally:
        first.stop()
        if second is not None:
            second.stop()
        producer.close()
