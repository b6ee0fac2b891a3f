"""A MariaDB server stopped (or SIGKILLed) and started again under a running worker, on a
private server (tests/servers/mariadb.py) with a data directory of its own: the shared
server on 3306 is never touched. Nothing acknowledged is lost, producers get a clear
error while it is down, and work resumes once it is back."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from taskbasket import BackendUnavailableError, Basket, State
from tests.helpers import wait_for
from tests.servers import require_tools
from tests.servers.mariadb import PrivateMariaDB

pytest.importorskip("pymysql")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMariaDB]:
    require_tools("mysql", "mariadbd", "mariadb-install-db")
    mariadb = PrivateMariaDB(tmp_path_factory.mktemp("mariadb"))
    mariadb.start()
    try:
        yield mariadb
    finally:
        mariadb.close()


def _connections(server: PrivateMariaDB, database: str) -> int:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=server.port, user="root")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE db = %s "
                        "AND id <> CONNECTION_ID()", (database,))
            row = cur.fetchone()
            return int(row[0]) if row else 0
    finally:
        conn.close()


@pytest.mark.parametrize("crash", [False, True], ids=["shutdown", "sigkill"])
def test_server_restart_loses_nothing(server: PrivateMariaDB, crash: bool) -> None:
    url = server.store_url(f"restart_{'crash' if crash else 'stop'}")
    basket = Basket(url)
    done: set[int] = set()
    lock = threading.Lock()

    @basket.task
    def job(n: int) -> None:
        with lock:
            done.add(n)

    expected = set(range(200))
    job.enqueue_many([(n,) for n in sorted(expected)])
    attempted = 0
    worker = basket.worker(concurrency=4, poll_interval=0.05, visibility_timeout=5)
    worker.start()
    try:
        wait_for(lambda: len(done) >= 20, 30, "work to start")
        if crash:
            server.crash()
        else:
            server.stop()
        # while the server is down, producers get a clear error naming it
        with pytest.raises(BackendUnavailableError, match=rf"127\.0\.0\.1:{server.port}"):
            for attempted in range(1000, 1100):
                job.enqueue(attempted)
                expected.add(attempted)  # stored before the server went away
        server.start()
        job.enqueue(-1)  # works again at once
        expected.add(-1)
        wait_for(lambda: basket.count(State.SUCCEEDED) == basket.count() >= len(expected), 90,
                 "every task to succeed after the restart")
    finally:
        if not server.running():
            server.start()
        worker.stop()
    assert done >= expected  # nothing lost
    # The enqueue that failed as the server went down may have been stored all the same
    # (the server committed it, its reply was lost); then it ran too. Nothing else ran.
    assert done <= expected | {attempted}
    assert basket.count() == basket.count(State.SUCCEEDED) == len(done)
    basket.close()
    database = url.rsplit("/", 1)[1]
    wait_for(lambda: _connections(server, database) == 0, 10, "every connection to be closed")
