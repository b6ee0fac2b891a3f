"""The short chaos run: 2,000 tasks while worker processes are SIGKILLed at random."""

from __future__ import annotations

import pytest
from chaos.run import ChaosConfig, run_chaos


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.needs("many_workers", "task_records")
def test_nothing_is_lost_while_workers_are_killed(store_name: str, store_url: str) -> None:
    config = ChaosConfig(tasks=2000, workers=3, concurrency=8, visibility_timeout=1.5,
                         kill_every=(0.7, 1.5), cut_connections_every=3.0,
                         restart_server=False, deadline=300)
    report = run_chaos(store_name, config, url=store_url, say=lambda *_: None)
    assert report.kills >= 1
    assert report.lost == 0, report
    assert report.stuck == 0, report
    assert report.succeeded == 2000, report
    assert report.executions >= 2000  # each task's effect at least once
