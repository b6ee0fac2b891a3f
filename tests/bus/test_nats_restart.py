"""A NATS JetStream server restarted under a running worker and a producer, on a private
server (tests/servers/nats.py), never the shared one: every task an enqueue acknowledged
runs to its end once the server is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import require_tools
from tests.servers.load import RunningWork
from tests.servers.nats import PrivateNats

pytest.importorskip("nats")
pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateNats]:
    require_tools("nats", "nats-server")
    nats = PrivateNats(tmp_path / "nats")
    nats.start()
    try:
        yield nats
    finally:
        nats.close()


@pytest.mark.parametrize("crash", [False, True], ids=["stop", "sigkill"])
def test_a_restart_under_a_running_worker_loses_nothing(server: PrivateNats,
                                                         crash: bool) -> None:
    with RunningWork(server.store_url("restart"), total=400, batch=20) as work:
        work.wait_done(100)
        server.restart(crash=crash)
        work.wait_all()
        assert work.missing() == []
        assert work.basket.count(state="failed") == 0
