"""Redis restarts, on a private server (tests/servers/redis.py), never the shared one.

Without persistence a restarted Redis is empty: the backend reconnects and reloads its
scripts, and that is all it can do. With an append-only file and ``appendfsync always``
a server SIGKILLed under a running worker and a producer comes back with every task it
acknowledged, and every one of them runs to success. (``everysec`` is measured by
``make chaos``; see docs/reliability.md.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from taskbasket import Basket, State
from taskbasket.backends.base import ClaimedTask, ClaimParams, NewTask, Outcome
from taskbasket.backends.base import OutcomeKind as Kind
from taskbasket.errors import BackendUnavailableError
from taskbasket.ids import new_task_id
from tests.helpers import maintain, wait_for
from tests.servers import require_tools
from tests.servers.load import RunningWork
from tests.servers.redis import PrivateRedis

redis = pytest.importorskip("redis")

from taskbasket.backends.redis import RedisBackend  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_tools("redis", "redis-server")


def _server(folder: Path, appendfsync: str | None) -> Iterator[PrivateRedis]:
    server = PrivateRedis(folder, appendfsync=appendfsync)
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def volatile(tmp_path: Path) -> Iterator[PrivateRedis]:
    yield from _server(tmp_path / "redis", None)


@pytest.fixture
def durable(tmp_path: Path) -> Iterator[PrivateRedis]:
    yield from _server(tmp_path / "redis", "always")


def _new() -> NewTask:
    return NewTask(id=new_task_id(), name="job", queue="default",
                   payload='{"args":[],"kwargs":{}}')


def _claim(b: RedisBackend) -> list[ClaimedTask]:
    return b.tasks_claim(ClaimParams("w", ["job"], 100, 30.0))


def _down(b: RedisBackend) -> bool:
    try:
        b.now()
    except BackendUnavailableError:
        return True
    return False


def test_server_restart_then_the_backend_recovers(volatile: PrivateRedis) -> None:
    server = volatile
    b = RedisBackend(f"{server.url}?prefix=tb_restart&socket_connect_timeout=1")
    try:
        b.migrate()
        b.tasks_insert([_new()])
        assert len(_claim(b)) == 1  # every script loaded into this server
        server.stop()
        with pytest.raises(BackendUnavailableError, match=f"127\\.0\\.0\\.1:{server.port}"):
            b.tasks_insert([_new()])
        server.start()
        wait_for(lambda: not _down(b), 30, "the backend to reach Redis again")
        # the restarted server knows no scripts and (without persistence) no tasks
        [ref] = b.tasks_insert([_new()])
        [task] = _claim(b)
        assert task.id == ref.id
        assert b.tasks_finish([Outcome(task.lease, Kind.SUCCEEDED)]) == [True]
        assert maintain(b).requeued == []
        assert b.tasks_stats() == {("default", State.SUCCEEDED): 1}
    finally:
        b.close()


def test_a_crash_with_appendfsync_always_loses_no_acknowledged_task(
    durable: PrivateRedis,
) -> None:
    """SIGKILL the server mid-run, with enqueues, claims, heartbeats and outcomes in
    flight; start it again on its AOF: every id an enqueue acknowledged is there and runs
    to success, and every outcome recorded before the crash is still recorded."""
    server = durable
    url = server.store_url("aof_always")
    with RunningWork(url, total=600, batch=20) as work:
        work.wait_done(150)
        before = Basket(url)
        succeeded_before = {t.id for t in before.list(State.SUCCEEDED, limit=10_000)}
        before.close()
        assert succeeded_before
        runs_before = {task_id: work.done[task_id] for task_id in succeeded_before}
        server.crash()
        server.start()
        assert server.starts == 2
        work.wait_all()
        assert work.missing() == []
        basket = work.basket
        stored = {t.id: t.state for t in basket.list(limit=10_000)}
        assert set(work.ledger) <= set(stored)  # nothing acknowledged was lost
        assert set(stored.values()) == {State.SUCCEEDED}
        assert succeeded_before <= set(stored)
        # an outcome the server acknowledged before the crash was not forgotten: none of
        # those tasks ran again (only tasks in flight at the crash may run twice)
        assert {task_id: work.done[task_id] for task_id in succeeded_before} == runs_before
    info = server.info()
    assert info["aof_enabled"] == 1 and info["aof_last_write_status"] == "ok"
