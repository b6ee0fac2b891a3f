"""SQLite itself: bad files and paths, concurrency across processes, the wake-up."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from taskbasket import BackendUnavailableError, Basket, ConfigurationError
from taskbasket.backends.base import ClaimOrder
from tests.helpers import ROOT


def test_unknown_scheme_lists_the_supported_ones() -> None:
    with pytest.raises(ConfigurationError) as info:
        Basket("mongodb://localhost/tasks")
    message = str(info.value)
    for scheme in ("sqlite://", "postgresql://", "mysql://", "redis://"):
        assert scheme in message


def test_default_url_is_taskbasket_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKBASKET_URL", raising=False)
    assert Basket().url == "sqlite:///taskbasket.db"
    monkeypatch.setenv("TASKBASKET_URL", "sqlite:////tmp/x.db")
    assert Basket().url == "sqlite:////tmp/x.db"


def test_relative_and_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Basket("sqlite:///rel.db") as basket:
        basket.enqueue("job")
    assert (tmp_path / "rel.db").exists()
    with Basket(f"sqlite:///{tmp_path}/abs.db") as basket:
        basket.enqueue("job")
    assert (tmp_path / "abs.db").exists()


def test_memory_database_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="cannot be shared"):
        Basket("sqlite:///:memory:").enqueue("job")


def test_unknown_url_option_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown option"):
        Basket(f"sqlite:///{tmp_path}/a.db?journal=off").enqueue("job")


def test_options_come_from_the_url_or_keywords(tmp_path: Path) -> None:
    from taskbasket.backends.sqlite import SQLiteBackend

    backend = SQLiteBackend(f"sqlite:///{tmp_path}/a.db?synchronous=full&busy_timeout=2.5")
    assert backend._connections.synchronous == "FULL"
    assert backend._connections.busy_timeout == 2.5
    backend = SQLiteBackend(f"sqlite:///{tmp_path}/a.db", busy_timeout=4)
    assert backend._connections.busy_timeout == 4
    assert backend._connections.synchronous == "NORMAL"
    with pytest.raises(ConfigurationError, match="did you mean 'busy_timeout'"):
        SQLiteBackend(f"sqlite:///{tmp_path}/a.db?busy_timeot=3")
    with pytest.raises(ConfigurationError, match="did you mean 'busy_timeout'"):
        SQLiteBackend(f"sqlite:///{tmp_path}/a.db", busy_timout=3)
    with pytest.raises(ConfigurationError, match="use NORMAL"):
        SQLiteBackend(f"sqlite:///{tmp_path}/a.db?synchronous=sometimes")
    with pytest.raises(ConfigurationError, match="number of seconds"):
        SQLiteBackend(f"sqlite:///{tmp_path}/a.db?busy_timeout=soon")


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    content = b"these are my notes, not a database\n" * 200
    path.write_bytes(content)
    with pytest.raises(BackendUnavailableError, match="is not a SQLite database"):
        Basket(f"sqlite:///{path}").enqueue("job")
    assert path.read_bytes() == content  # untouched


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="does not exist"):
        Basket(f"sqlite:///{tmp_path}/nope/tasks.db").enqueue("job")


def test_read_only_database_is_explained_and_keeps_its_tasks(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    with Basket(f"sqlite:///{path}") as basket:
        ref = basket.enqueue("job", args=[1])
    # a file system that refuses writes, as root cannot be refused by permissions
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    from taskbasket.backends.sqlite import SQLiteBackend

    backend = SQLiteBackend(f"sqlite:///{path}")
    backend._connections._local.conn = conn  # the store opened read-only, as on a read-only mount
    backend._migrated = True
    with Basket(backend=backend) as basket:
        with pytest.raises(BackendUnavailableError, match="read-only"):
            basket.enqueue("job", args=[2])
        task = basket.get(ref.id)
        assert task is not None and task.args == [1]
    with Basket(f"sqlite:///{path}") as basket:
        assert basket.count() == 1


def test_schema_is_versioned(tmp_path: Path) -> None:
    from taskbasket.backends.sqlite import SCHEMA_VERSION

    with Basket(f"sqlite:///{tmp_path}/v.db") as basket:
        basket.migrate()
        basket.migrate()  # idempotent
    conn = sqlite3.connect(tmp_path / "v.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(BackendUnavailableError, match="upgrade taskbasket"):
        Basket(f"sqlite:///{tmp_path}/v.db").count()


def _claim_plan(path: Path, order: ClaimOrder, names: list[str] | None,
                queues: list[str] | None) -> list[str]:
    from taskbasket.backends.sqlite.statements import claim_parameters, claim_sql

    conn = sqlite3.connect(path)
    statement = claim_sql(None if names is None else len(names),
                          None if queues is None else len(queues), order=order)
    rows = conn.execute("EXPLAIN QUERY PLAN " + statement,
                        claim_parameters("t", 0, 0, "w", names, queues, 5)).fetchall()
    conn.close()
    return [str(row[3]) for row in rows]


@pytest.mark.parametrize("order", list(ClaimOrder))
@pytest.mark.parametrize(("names", "queues"), [(["a", "b"], ["q"]), (None, None)])
def test_claim_reads_two_bounded_index_ranges(
    tmp_path: Path, order: ClaimOrder, names: list[str] | None, queues: list[str] | None
) -> None:
    """Queued tasks come through the queued index of the order, in that order (no sort
    of the index range), and due scheduled or retrying ones through the due index's
    range run_at <= now; the only sorts are of the branches' at most ``limit`` rows each."""
    with Basket(f"sqlite:///{tmp_path}/i.db") as basket:
        basket.migrate()
    plan = _claim_plan(tmp_path / "i.db", order, names, queues)
    queued = ("taskbasket_tasks_queued_created" if order is ClaimOrder.CREATED
              else "taskbasket_tasks_queued")
    reads = [line for line in plan if line.startswith(("SCAN taskbasket", "SEARCH taskbasket"))
             and "taskbasket_queues" not in line]  # (the paused queues: read once, a list)
    assert reads == [
        "SEARCH taskbasket_tasks USING COVERING INDEX sqlite_autoindex_taskbasket_tasks_1 (id=?)",
        f"SCAN taskbasket_tasks USING INDEX {queued}",
        "SEARCH taskbasket_tasks USING INDEX taskbasket_tasks_due (run_at<?)",
    ], plan
    # a sort comes after a branch's LIMIT (the merge), never inside a branch's walk
    for index, line in enumerate(plan):
        if "TEMP B-TREE" in line:
            assert plan[index - 1].startswith("SCAN (subquery"), plan


def test_promotion_reads_the_due_range_only(tmp_path: Path) -> None:
    from taskbasket.backends.sqlite.statements import ANY_DUE, PROMOTE

    with Basket(f"sqlite:///{tmp_path}/i.db") as basket:
        basket.migrate()
    conn = sqlite3.connect(tmp_path / "i.db")
    for statement, parameters in ((ANY_DUE, [0]), (PROMOTE, [0, 5])):
        plan = " ".join(str(row[3]) for row in conn.execute(
            "EXPLAIN QUERY PLAN " + statement, parameters))
        assert "USING INDEX taskbasket_tasks_due (run_at<?)" in plan, plan
    conn.close()


def test_a_store_of_the_first_schema_is_upgraded(tmp_path: Path) -> None:
    """A file made by the first schema version gets the later migrations, tasks kept."""
    from taskbasket.backends.sqlite import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO taskbasket_tasks (id, name, queue, state, payload, max_attempts, "
        "timeout, created_at, run_at) VALUES ('01900000-0000-7000-8000-000000000000', "
        "'job', 'default', 'queued', '{\"args\":[],\"kwargs\":{}}', 3, 30, 0, 0)")
    conn.close()
    with Basket(f"sqlite:///{path}") as basket:
        assert basket.count() == 1
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"taskbasket_tasks_queued", "taskbasket_tasks_queued_created",
            "taskbasket_tasks_due"} <= names
    assert not names & {"taskbasket_tasks_ready", "taskbasket_tasks_ready_created"}
    conn.close()


def test_producers_in_many_processes_share_one_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    Basket(url).migrate()
    script = (
        "import sys; from taskbasket import Basket\n"
        "b = Basket(sys.argv[1])\n"
        "for i in range(300): b.enqueue('job', args=[i])\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, url], cwd=ROOT) for _ in range(4)]
    assert [p.wait(60) for p in procs] == [0, 0, 0, 0]
    with Basket(url) as basket:
        assert basket.count() == 1200


def test_many_processes_opening_a_new_file_at_once(tmp_path: Path) -> None:
    """The switch to WAL and the first migration race safely across processes."""
    script = (
        "import sys; from taskbasket import Basket\n"
        "b = Basket(sys.argv[1])\n"
        "for i in range(20): b.enqueue('job', args=[i])\n"
    )
    for round_ in range(3):
        url = f"sqlite:///{tmp_path}/new{round_}.db"
        procs = [subprocess.Popen([sys.executable, "-c", script, url], cwd=ROOT,
                                  stderr=subprocess.PIPE) for _ in range(6)]
        results = [(p.wait(60), p.stderr.read().decode() if p.stderr else "") for p in procs]
        assert all(code == 0 for code, _ in results), results
        with Basket(url) as basket:
            assert basket.count() == 120


def test_an_idle_listener_is_woken_by_an_enqueue(tmp_path: Path) -> None:
    with Basket(f"sqlite:///{tmp_path}/w.db") as basket:
        basket.migrate()
        listener = basket.backend.listener(None)
        woke: list[bool] = []
        thread = threading.Thread(target=lambda: woke.append(listener.wait(30)))
        thread.start()
        # before or during its wait, either way: the listener's socket is bound already
        basket.enqueue("job")
        thread.join(30)
        listener.close()
        assert woke == [True]  # woken by the enqueue, not by the 30 s timeout


def test_stale_wakeup_sockets_are_removed(tmp_path: Path) -> None:
    with Basket(f"sqlite:///{tmp_path}/s.db") as basket:
        basket.migrate()
        folder = tmp_path / "s.db.wake"
        folder.mkdir(exist_ok=True)
        import socket

        dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        dead.bind(str(folder / "1-dead.sock"))
        dead.close()  # its worker died: the file stays behind
        basket.enqueue("job")
        assert not (folder / "1-dead.sock").exists()
