"""MySQL / MariaDB specifics, against the real server: migrations under concurrency, claim
races, transactional enqueue, lock conflicts provoked for real and killed connections (a
server restart, on a private server: test_mysql_restart.py). The shared behaviour is
proven by tests/conformance."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import pytest

from taskbasket import BackendUnavailableError, Basket, ConfigurationError, State
from taskbasket.backends.base import ClaimParams, NewTask, Outcome, OutcomeKind, TaskFilter
from taskbasket.ids import new_task_id
from tests.helpers import wait_for
from tests.stores import new_store, required_stores, unique_tag
from tests.stores.mysql import FACTORY, SERVER_URL, connect

try:
    import pymysql

    from taskbasket.backends.mysql import SCHEMA_VERSION, MySQLBackend
except ImportError:  # pragma: no cover - depends on the environment
    if "mysql" in required_stores():
        raise
    pytest.skip("PyMySQL is not installed", allow_module_level=True)

@pytest.fixture(autouse=True)
def _server() -> None:
    reason = FACTORY.unavailable()
    if reason:
        if "mysql" in required_stores():
            pytest.fail(f"mysql is required (TASKBASKET_REQUIRE_BACKENDS) but: {reason}")
        pytest.skip(reason)


@pytest.fixture
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    with new_store("mysql", unique_tag(request)) as made:
        yield made


@pytest.fixture
def backend(url: str) -> Iterator[MySQLBackend]:
    store = MySQLBackend(url)
    try:
        yield store
    finally:
        store.close()


def _task(n: int = 0, **fields: Any) -> NewTask:
    return NewTask(id=new_task_id(), name="job", queue="default",
                   payload=f'{{"args":[{n}],"kwargs":{{}}}}', **fields)


def _connections(database: str, server_url: str = SERVER_URL) -> list[int]:
    admin = connect(server_url)
    try:
        with admin.cursor() as cur:
            cur.execute(
                "SELECT id FROM information_schema.PROCESSLIST WHERE db = %s "
                "AND id <> CONNECTION_ID()",
                (database,),
            )
            return [int(row[0]) for row in cur.fetchall()]
    finally:
        admin.close()


def _kill_all(database: str) -> int:
    ids = _connections(database)
    admin = connect()
    try:
        with admin.cursor() as cur:
            for thread_id in ids:
                with contextlib.suppress(pymysql.err.OperationalError):  # gone meanwhile
                    cur.execute(f"KILL {thread_id}")
    finally:
        admin.close()
    return len(ids)


def _lock_waits(database: str) -> int:
    admin = connect()
    try:
        with admin.cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.INNODB_TRX t JOIN "
                "information_schema.PROCESSLIST p ON p.id = t.trx_mysql_thread_id "
                "WHERE t.trx_state = 'LOCK WAIT' AND p.db = %s",
                (database,),
            )
            row = cur.fetchone()
            return int(row[0]) if row else 0
    finally:
        admin.close()


def _handler_reads(cur: Any) -> int:
    cur.execute("SHOW SESSION STATUS LIKE 'Handler_read%'")
    return sum(int(value) for _, value in cur.fetchall())


# --------------------------------------------------------------------------- migrations


def test_concurrent_migrations_from_threads(url: str) -> None:
    stores = [MySQLBackend(url) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def migrate(store: MySQLBackend) -> None:
        barrier.wait()
        try:
            store.migrate()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    versions = stores[0]._read(f"SELECT version FROM {stores[0].versions_table} ORDER BY 1")
    assert [v for (v,) in versions] == list(range(1, SCHEMA_VERSION + 1))
    ref = stores[1].tasks_insert([_task()])[0]
    assert stores[2].tasks_get(ref.id) is not None
    for store in stores:
        store.close()


def _migrate_in_process(url: str, barrier: Any, results: Any) -> None:
    barrier.wait(30)
    try:
        MySQLBackend(url).migrate()
        results.put("ok")
    except BaseException as exc:
        results.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_migrations_from_processes(url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    count = 4
    barrier = ctx.Barrier(count)
    results = ctx.Queue()
    procs = [ctx.Process(target=_migrate_in_process, args=(url, barrier, results))
             for _ in range(count)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(30)
    assert outcomes == ["ok"] * count
    store = MySQLBackend(url)
    versions = store._read(f"SELECT COUNT(*) FROM {store.versions_table}")
    assert versions[0][0] == SCHEMA_VERSION
    store.close()


def test_a_newer_schema_is_refused(url: str, backend: MySQLBackend) -> None:
    backend.migrate()
    backend._read(f"INSERT INTO {backend.versions_table} VALUES (%s, UTC_TIMESTAMP(6))",
                  (SCHEMA_VERSION + 1,))
    with pytest.raises(BackendUnavailableError, match="upgrade taskbasket"):
        MySQLBackend(url).migrate()


def test_table_prefixes_keep_stores_apart(url: str) -> None:
    a = MySQLBackend(url, table_prefix="app_a_")
    b = MySQLBackend(url + "?table_prefix=app_b_")
    a.tasks_insert([_task()])
    assert a.tasks_count(TaskFilter()) == 1
    assert b.tasks_count(TaskFilter()) == 0
    a.close()
    b.close()


# --------------------------------------------------------------------------- claims


def test_two_threads_never_claim_one_task_twice(url: str) -> None:
    producer = MySQLBackend(url)
    total = 1500
    for start in range(0, total, 500):
        producer.tasks_insert([_task(i) for i in range(start, start + 500)])
    claimers = [MySQLBackend(url) for _ in range(4)]
    barrier = threading.Barrier(len(claimers))
    seen: list[list[str]] = [[] for _ in claimers]

    def drain(index: int) -> None:
        store = claimers[index]
        barrier.wait()
        while True:
            got = store.tasks_claim(ClaimParams(
                worker_id=f"w{index}", names=["job"], limit=7, lease_seconds=60))
            if not got:
                return
            seen[index].extend(t.id for t in got)
            store.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in got])

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(claimers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    every = [task_id for ids in seen for task_id in ids]
    assert len(every) == total
    assert len(set(every)) == total  # nobody got a task twice
    assert sum(1 for ids in seen if ids) >= 2  # they really raced
    assert producer.tasks_count(TaskFilter(states=[State.SUCCEEDED])) == total
    for store in [producer, *claimers]:
        store.close()


def _disk_temporary_tables(cur: Any) -> int:
    cur.execute("SHOW SESSION STATUS LIKE 'Created_tmp_disk_tables'")
    return int(cur.fetchone()[1])


def _explained_claim(backend: MySQLBackend, params: ClaimParams, queued_key: str) -> int:
    """Check the plan of the claim's SELECT and run it, rolled back: the handler reads it
    cost. The merge of the branches comes first, each branch on its key in its order
    (sorted only after their limits, as the merge), then the rows by primary key; no
    temporary table goes to disk (the merge carries no text column)."""
    from taskbasket.backends.mysql.statements import claim_select

    query, args = claim_select(backend.table, params, backend.settings.queues_table)
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("EXPLAIN " + query, args)
            # (each branch's look-up of a paused queue is a primary-key probe of the queues)
            plan = [row for row in cur.fetchall() if not str(row[2]).endswith("queues")
                    and not str(row[2]).startswith("<subquery")]
            assert plan[0][2] == "<derived2>" and (plan[1][3], plan[1][5]) == (
                "eq_ref", "PRIMARY"), plan
            assert [row[5] for row in plan[2:]] == [queued_key, "due", "due", None], plan
            assert ["filesort" in (row[9] or "").lower() for row in plan[2:]] == [
                False, False, False, True], plan
            before, disk = _handler_reads(cur), _disk_temporary_tables(cur)
            cur.execute(query, args)
            assert len(cur.fetchall()) == params.limit
            read = _handler_reads(cur) - before
            assert _disk_temporary_tables(cur) == disk
        conn.rollback()
    finally:
        conn.close()
    return read


def test_claim_uses_the_queued_index_as_finished_tasks_pile_up(backend: MySQLBackend) -> None:
    backend.tasks_insert([_task(i) for i in range(5000)])
    backend._read(f"UPDATE {backend.table} SET state = 'succeeded', "
                  "finished_at = UTC_TIMESTAMP(6)")
    backend.tasks_insert([_task(i) for i in range(20)])
    backend._read(f"ANALYZE TABLE {backend.table}")
    read = _explained_claim(backend, ClaimParams("w", ["job"], 10, 30), "queued")
    # the finished rows are outside the ranges it scans: a walk past them would read
    # thousands; the count includes the merge's temporary tables (about 6 reads a task)
    assert read < 100, read
    claimed = backend.tasks_claim(ClaimParams("w", ["job"], 50, 30))
    assert len(claimed) == 20


def test_claim_reads_no_future_task(backend: MySQLBackend) -> None:
    """Future tasks of a higher priority are outside every range a claim reads, in
    either order (issue #17)."""
    from taskbasket.backends.base import ClaimOrder

    backend.tasks_insert([_task(i, priority=5, delay=3600) for i in range(3000)])
    fresh = [_task(i) for i in range(20)]
    backend.tasks_insert(fresh)
    backend._read(f"ANALYZE TABLE {backend.table}")
    for order, key in ((ClaimOrder.PRIORITY, "queued"), (ClaimOrder.CREATED, "queued_created")):
        read = _explained_claim(backend, ClaimParams("w", ["job"], 10, 30, order=order), key)
        assert read < 100, (order, read)  # not thousands: see above
    claimed = backend.tasks_claim(ClaimParams("w", ["job"], 50, 30, order=ClaimOrder.CREATED))
    assert [t.id for t in claimed] == [t.id for t in fresh]


def test_created_order_claim_walks_its_own_index(backend: MySQLBackend) -> None:
    from taskbasket.backends.base import ClaimOrder

    backend.tasks_insert([_task(i) for i in range(200)])
    backend._read(f"UPDATE {backend.table} SET state = 'succeeded', "
                  "finished_at = UTC_TIMESTAMP(6)")
    fresh = [_task(i) for i in range(20)]
    backend.tasks_insert(fresh)
    backend._read(f"ANALYZE TABLE {backend.table}")
    _explained_claim(backend, ClaimParams("w", ["job"], 10, 30, order=ClaimOrder.CREATED),
                     "queued_created")
    claimed = backend.tasks_claim(ClaimParams("w", ["job"], 50, 30, order=ClaimOrder.CREATED))
    assert [t.id for t in claimed] == [t.id for t in fresh]


def test_every_claim_branch_skips_the_rows_another_transaction_locked(
    backend: MySQLBackend,
) -> None:
    """A queued, a due scheduled and a due retrying task, each locked elsewhere, are
    skipped; the claim takes the others, and the locked ones once they are free."""
    tasks = [_task(p, priority=p) for p in (9, 8, 7, 2, 1, 0)]
    backend.tasks_insert(tasks)
    raw = [uuid.UUID(t.id).bytes for t in tasks]
    setup = connect()
    try:
        with setup.cursor() as cur:
            for state, ids in (("scheduled", [raw[1], raw[4]]), ("retrying", [raw[2], raw[5]])):
                cur.execute(f"UPDATE {backend.table} SET state = %s, run_at = "
                            "UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE id IN (%s, %s)",
                            [state, *ids])
        setup.commit()
    finally:
        setup.close()
    locker = connect()
    try:
        with locker.cursor() as cur:
            # read committed and through the primary key, to lock just these rows (a
            # scan of the small table, or next-key locks, would lock others too)
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cur.execute("BEGIN")
            cur.execute(f"SELECT id FROM {backend.table} FORCE INDEX (PRIMARY) "
                        "WHERE id IN (%s, %s, %s) FOR UPDATE", raw[:3])
            assert len(cur.fetchall()) == 3
            taken = backend.tasks_claim(ClaimParams("w", ["job"], 10, 30))
            assert [t.id for t in taken] == [t.id for t in tasks[3:]]
        locker.rollback()
    finally:
        locker.close()
    taken = backend.tasks_claim(ClaimParams("w", ["job"], 10, 30))
    assert [t.id for t in taken] == [t.id for t in tasks[:3]]


def test_unique_keys_compare_exactly(backend: MySQLBackend) -> None:
    refs = backend.tasks_insert([_task(unique_key="k")])
    refs += backend.tasks_insert([_task(unique_key="k ")])  # trailing space: another key
    refs += backend.tasks_insert([_task(unique_key="K")])  # case: another key
    refs += backend.tasks_insert([_task(unique_key="k")])
    assert [r.created for r in refs] == [True, True, True, False]
    assert refs[3].id == refs[0].id


def test_a_batch_spanning_several_statements_is_all_or_nothing(backend: MySQLBackend) -> None:
    backend.migrate()
    blob = "x" * (1024 * 1024)
    big = [NewTask(id=new_task_id(), name="job", queue="default",
                   payload=f'{{"args":["{blob}"],"kwargs":{{}}}}') for _ in range(20)]
    bad = NewTask(id=new_task_id(), name="n" * 300, queue="default", payload="{}")
    with pytest.raises(Exception, match=r"(?i)too long"):
        backend.tasks_insert([*big, bad])  # the last statement fails on the server
    assert backend.tasks_count(TaskFilter()) == 0
    refs = backend.tasks_insert(big)
    assert backend.tasks_count(TaskFilter()) == 20 and all(r.created for r in refs)


def test_idle_listener_wakes_when_another_process_stores_a_task(url: str) -> None:
    worker_side = MySQLBackend(url, wake_interval=0.05)
    producer_side = MySQLBackend(url)  # another pool, as in another process
    worker_side.migrate()
    listener = worker_side.listener(None)
    assert listener.wait(0.2) is False  # nothing stored: it polls and times out
    woke: list[bool] = []
    thread = threading.Thread(target=lambda: woke.append(listener.wait(30)))
    thread.start()
    wait_for(lambda: _connections(worker_side.database), 5, "the listener to poll")
    producer_side.tasks_insert([_task()])
    thread.join(30)
    assert woke == [True]  # woken by the insert, not by the 30 s timeout
    listener.close()
    polling = MySQLBackend(url, wake_interval=0)
    plain = polling.listener(None)
    producer_side.tasks_insert([_task()])
    assert plain.wait(0.3) is False  # plain polling: only the timeout ends the wait
    for store in (worker_side, producer_side, polling):
        store.close()


# --------------------------------------------------------------------------- transactions


def test_transactional_enqueue_joins_the_application_transaction(url: str) -> None:
    basket = Basket(url)

    @basket.task
    def job(n: int) -> None: ...

    basket.migrate()
    other_db = connect()  # connected to no database at all: names are qualified
    try:
        rolled_back = job.options(connection=other_db).enqueue(1)
        keyed = job.options(connection=other_db, unique_key="once").enqueue(2)
        assert basket.get(rolled_back.id) is None  # invisible before commit
        other_db.rollback()
        committed = job.options(connection=other_db).enqueue(3)
        again = job.options(connection=other_db, unique_key="once").enqueue(4)
        other_db.commit()
    finally:
        other_db.close()
    assert basket.get(rolled_back.id) is None and basket.get(keyed.id) is None
    assert again.created and basket.get(again.id) is not None
    assert basket.get(committed.id) is not None
    assert basket.count() == 2
    basket.close()


def test_unique_key_on_an_old_snapshot_finds_the_new_holder(url: str) -> None:
    """The application's REPEATABLE READ snapshot predates the task holding the key."""
    basket = Basket(url)

    @basket.task
    def job() -> None: ...

    basket.migrate()
    app = connect(url)
    try:
        with app.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM taskbasket_tasks")  # the snapshot starts
        first = job.options(unique_key="k").enqueue()  # committed meanwhile
        again = job.options(unique_key="k", connection=app).enqueue()
        app.commit()
    finally:
        app.close()
    assert again.id == first.id and not again.created
    assert basket.count() == 1
    basket.close()


def test_transactional_enqueue_refuses_other_connections(url: str) -> None:
    basket = Basket(url)

    @basket.task
    def job() -> None: ...

    import sqlite3

    with pytest.raises(ConfigurationError, match="PyMySQL connection"):
        job.options(connection=sqlite3.connect(":memory:")).enqueue()
    assert basket.count() == 0
    basket.close()


# --------------------------------------------------------------------------- conflicts


def test_lock_wait_timeout_during_insert_is_retried(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="taskbasket.backends.mysql")
    store = MySQLBackend(url, lock_wait_timeout=1)
    store.migrate()
    database = store.database
    app = connect(url)
    holder = _task(unique_key="report:7")
    store.tasks_insert([holder], connection=app)  # the key's row is locked, uncommitted
    result: list[Any] = []

    def enqueue() -> None:
        try:
            result.append(store.tasks_insert([_task(unique_key="report:7")]))
        except BaseException as exc:
            result.append(exc)

    thread = threading.Thread(target=enqueue)
    thread.start()
    wait_for(lambda: "1205" in caplog.text, 20, "a lock wait timeout and its retry")
    assert _lock_waits(database) <= 1
    app.commit()
    thread.join(30)
    app.close()
    [refs] = result
    assert not isinstance(refs, BaseException), refs
    assert refs[0].id == holder.id and not refs[0].created
    store.close()


def test_deadlock_during_insert_is_retried(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="taskbasket.backends.mysql")
    store = MySQLBackend(url)
    store.migrate()
    app = connect(url)
    # the application's transaction is the heavier one, so InnoDB picks ours as the victim
    store.tasks_insert([_task(i) for i in range(50)], connection=app)
    held_a = _task(unique_key="a")
    store.tasks_insert([held_a], connection=app)
    result: list[Any] = []

    def enqueue() -> None:
        try:  # takes key b, then waits for key a, which the application holds
            result.append(store.tasks_insert([_task(unique_key="b"), _task(unique_key="a")]))
        except BaseException as exc:
            result.append(exc)

    thread = threading.Thread(target=enqueue)
    thread.start()
    wait_for(lambda: _lock_waits(store.database) == 1, 20, "the enqueue to wait for key a")
    held_b = _task(unique_key="b")
    store.tasks_insert([held_b], connection=app)  # closes the cycle: a deadlock
    app.commit()
    thread.join(30)
    app.close()
    assert "1213" in caplog.text  # InnoDB found the deadlock and we retried
    [refs] = result
    assert not isinstance(refs, BaseException), refs
    assert [(r.id, r.created) for r in refs] == [(held_b.id, False), (held_a.id, False)]
    store.close()


# --------------------------------------------------------------------------- resilience


def test_killed_connections_are_replaced(url: str) -> None:
    store = MySQLBackend(url, pool_size=4)
    store.tasks_insert([_task(i) for i in range(10)])
    barrier = threading.Barrier(4)

    def busy() -> None:  # four threads at once open four connections
        barrier.wait()
        store.tasks_count(TaskFilter())

    threads = [threading.Thread(target=busy) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert _kill_all(store.database) >= 1
    # the next operations notice the dead connections and work on new ones
    assert store.tasks_count(TaskFilter()) == 10
    claimed = store.tasks_claim(ClaimParams("w", ["job"], 3, 30))
    assert len(claimed) == 3
    _kill_all(store.database)
    assert store.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in claimed]) == [
        True, True, True]
    _kill_all(store.database)
    store.tasks_insert([_task(99)])
    assert store.tasks_count(TaskFilter()) == 11
    assert len(_connections(store.database)) <= 4  # nothing leaked
    store.close()


def _lose_reply_after(monkeypatch: pytest.MonkeyPatch, marker: str) -> list[str]:
    """Make the client lose the reply to the first statement containing ``marker``.

    The statement runs (and commits) on the real server; the client then sees the error
    PyMySQL raises when a connection drops mid-reply.
    """
    from taskbasket.backends.mysql.session import Session

    original = Session.execute
    fired: list[str] = []

    def execute(self: Any, sql: str, args: Any = None, *, commit: bool = False) -> int:
        count = original(self, sql, args, commit=commit)
        if not fired and marker in sql:
            fired.append(sql)
            raise pymysql.err.OperationalError(2013, "Lost connection (injected)")
        return count

    monkeypatch.setattr(Session, "execute", execute)
    return fired


def test_a_claim_whose_commit_reply_was_lost_still_hands_out_its_tasks(
    backend: MySQLBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.tasks_insert([_task(i) for i in range(5)])
    fired = _lose_reply_after(monkeypatch, "SET state = 'running'")
    claimed = backend.tasks_claim(ClaimParams("w", ["job"], 3, 30))
    assert fired  # the UPDATE ... ; COMMIT ran, and its reply was lost
    assert len(claimed) == 3  # found by the claim's token on a new connection
    assert backend.tasks_count(TaskFilter(states=[State.RUNNING])) == 3
    assert backend.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in claimed]) == [
        True, True, True]


def test_an_outcome_whose_reply_was_lost_is_recorded_once(
    backend: MySQLBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.tasks_insert([_task(i) for i in range(2)])
    claimed = backend.tasks_claim(ClaimParams("w", ["job"], 2, 30))
    fired = _lose_reply_after(monkeypatch, "SET state = 'succeeded'")
    outcomes = [Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in claimed]
    assert backend.tasks_finish(outcomes) == [True, True]  # run again: still accepted
    assert fired
    assert backend.tasks_count(TaskFilter(states=[State.SUCCEEDED])) == 2


def test_an_enqueue_whose_reply_was_lost_is_stored_once(
    backend: MySQLBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.migrate()
    fired = _lose_reply_after(monkeypatch, "INSERT INTO")
    refs = backend.tasks_insert([_task(1), _task(2)])
    assert fired and all(r.created for r in refs)
    assert backend.tasks_count(TaskFilter()) == 2


def test_a_worker_survives_killed_connections(url: str) -> None:
    basket = Basket(url)
    done: set[int] = set()

    @basket.task
    def job(n: int) -> None:
        done.add(n)

    job.enqueue_many([(i,) for i in range(300)])
    worker = basket.worker(concurrency=4, poll_interval=0.05, visibility_timeout=5)
    worker.start()
    try:
        database = url.rsplit("/", 1)[1]
        for _ in range(5):
            wait_for(lambda: _connections(database), 10, "connections to kill")
            _kill_all(database)
        wait_for(lambda: basket.count(State.SUCCEEDED) == 300, 60, "every task to finish")
    finally:
        worker.stop()
        basket.close()
    assert done == set(range(300))


def test_unreachable_server_names_host_and_port() -> None:
    store = MySQLBackend("mysql://root@127.0.0.1:1/nowhere", connect_timeout=2)
    with pytest.raises(BackendUnavailableError, match=r"127\.0\.0\.1:1 .*running"):
        store.now()


def test_missing_database_says_how_to_create_it() -> None:
    store = MySQLBackend("mysql://root@127.0.0.1:3306/tb_no_such_database")
    with pytest.raises(BackendUnavailableError, match="CREATE DATABASE"):
        store.migrate()


@pytest.mark.parametrize(
    ("url", "options", "match"),
    [
        ("mysql://root@127.0.0.1/db?pool_sise=3", {}, "did you mean 'pool_size'"),
        ("mysql://root@127.0.0.1/db", {"pool_size": 0}, "pool_size"),
        ("mysql://root@127.0.0.1/db?table_prefix=a-b", {}, "table_prefix"),
        ("mysql://root@127.0.0.1/", {}, "names no database"),
        ("mysql+mysqldb://root@127.0.0.1/db", {}, "PyMySQL"),
    ],
)
def test_bad_urls_and_options_are_refused(url: str, options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        MySQLBackend(url, **options)


def test_password_is_not_shown_in_errors() -> None:
    store = MySQLBackend("mysql://root:s3cret@127.0.0.1:1/db", connect_timeout=2)
    with pytest.raises(BackendUnavailableError) as info:
        store.now()
    assert "s3cret" not in str(info.value)


def test_now_is_the_server_clock(backend: MySQLBackend) -> None:
    (server,) = backend._read("SELECT UTC_TIMESTAMP(6)")[0]
    now = backend.now()
    assert now.tzinfo is not None
    assert 0 <= (now - server.replace(tzinfo=UTC)).total_seconds() < 5
