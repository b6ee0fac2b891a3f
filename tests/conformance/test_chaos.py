"""The short chaos run: 2,000 tasks, enqueued before and while worker processes run, the
workers SIGKILLed on a seeded schedule and the run's own connections cut; the audit
checks every id ``enqueue_many`` acknowledged. (``make chaos`` runs the long version,
with server crashes on private servers.)"""

from __future__ import annotations

import pytest
from chaos.run import ChaosConfig, run_chaos

from tests.stores import available_store, factory


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.needs("many_workers", "task_records", "shared_between_processes")
def test_nothing_is_lost_while_workers_are_killed(store_name: str, store_url: str) -> None:
    config = ChaosConfig(tasks=2000, workers=3, concurrency=8, visibility_timeout=1.5,
                         kill_every=(0.7, 1.5), cut_connections_every=3.0,
                         restart_server=False, batch=250, deadline=300)
    said: list[str] = []
    report = run_chaos(store_name, config, url=store_url, say=said.append)
    assert report.kills >= 1, said
    assert report.interrupted > 0, report  # the kills hit work in flight
    if hasattr(factory(store_name), "kill_connections"):
        assert report.connection_cuts > 0, report  # the run's own connections, only
    assert report.tasks == 2000, report  # the ledger: every acknowledged id
    assert report.lost == 0, report
    assert report.stuck == 0, report
    assert report.succeeded == 2000, report
    assert report.passed, report
    assert report.executions >= 2000  # each task's effect at least once


@pytest.mark.parametrize("store", ["postgres", "redis"])
def test_a_cut_refuses_a_url_that_does_not_name_its_connections(store: str) -> None:
    """Cutting by a URL without the run's connection name would cut every client of the
    shared server, other tests' included: refused before anything is cut."""
    available_store(store)
    url = factory(store).create("unnamed")  # (creating is enough; nothing connects)
    try:
        with pytest.raises(ValueError, match="refusing to cut"):
            factory(store).kill_connections(url)  # type: ignore[attr-defined]
    finally:
        factory(store).drop(url)
