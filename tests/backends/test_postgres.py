"""PostgreSQL itself, on a real server: migrations, SKIP LOCKED, LISTEN/NOTIFY, transactional
enqueue, the claim's plan, and recovery from dropped connections and a server restart."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest

from taskbasket import BackendUnavailableError, Basket, ConfigurationError, State
from taskbasket.backends.base import ClaimParams, Outcome, OutcomeKind, TaskFilter
from tests.helpers import ROOT, maintain, wait_for
from tests.servers.postgres import PrivatePostgres
from tests.stores import factory, skip_unless_required
from tests.stores.postgres import BASE_URL, split_url

try:
    import psycopg
except ImportError as exc:  # pragma: no cover - depends on the environment
    skip_unless_required("postgres", f"psycopg is not installed ({exc})",
                         allow_module_level=True)

from taskbasket.backends.postgres import (
    MIGRATIONS,
    SCHEMA_VERSION,
    PostgresBackend,
)

STORE = factory("postgres")
if STORE.unavailable():
    skip_unless_required("postgres", str(STORE.unavailable()), allow_module_level=True)


@pytest.fixture
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    tag = f"{request.node.name[:24].lower()}_{os.getpid()}_{os.urandom(3).hex()}"
    tag = "".join(c if c.isalnum() else "_" for c in tag)
    store_url = STORE.create(tag)
    try:
        yield store_url
    finally:
        STORE.drop(store_url)


def admin() -> Any:
    return psycopg.connect(BASE_URL, autocommit=True)


def claim_params(limit: int = 10, lease: float = 30.0, names: list[str] | None = None
                 ) -> ClaimParams:
    return ClaimParams(worker_id="test", names=names or ["job"], limit=limit,
                       lease_seconds=lease)


def with_option(url: str, option: str) -> str:
    return f"{url}&{option}"


# --------------------------------------------------------------------------- configuration


def test_unreachable_server_names_host_and_port() -> None:
    with pytest.raises(BackendUnavailableError) as info:
        Basket("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2").enqueue("job")
    message = str(info.value)
    assert "127.0.0.1:1" in message and "Is the server running" in message


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("postgresql://u@h/db?schema=no-dashes", "not a plain identifier"),
        ("postgresql://u@h/db?pool_max_size=0", "pool_max_size='0' must be a whole number >= 1"),
        ("postgresql://u@h/db?pool_min_size=5&pool_max_size=2", "must be >= pool_min_size"),
        ("postgresql://u@h/db?pool_timeout=soon",
         "pool_timeout='soon' must be a number of seconds > 0"),
        ("postgresql://u@h/db?shema=x", "did you mean .schema."),
        ("postgresql://u@h/db?sslmod=disable", "did you mean .sslmode."),
    ],
)
def test_bad_url_options_are_refused(url: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        PostgresBackend(url)


def test_unknown_keyword_option_suggests_the_right_one() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'pool_max_size'"):
        PostgresBackend("postgresql://u@h/db", pool_max_sise=3)


def test_own_options_are_not_passed_to_libpq() -> None:
    backend = PostgresBackend(
        "postgresql+psycopg://u@h:5433/db?schema=s1&sslmode=disable&pool_max_size=3"
    )
    assert backend.schema == "s1" and backend.pool_max_size == 3
    assert "schema" not in backend.conninfo and "pool_max_size" not in backend.conninfo
    assert backend.conninfo.startswith("postgresql://") and "sslmode=disable" in backend.conninfo


# --------------------------------------------------------------------------- migrations


def _schema_state(schema: str) -> tuple[list[int], set[str]]:
    with admin() as conn:
        versions = [r[0] for r in conn.execute(
            f'SELECT version FROM "{schema}".schema_version ORDER BY version')]
        indexes = {r[0] for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,))}
    return versions, indexes


def test_migrations_are_applied_once_in_order(url: str) -> None:
    backend = PostgresBackend(url)
    backend.migrate()
    backend.migrate()
    PostgresBackend(url).migrate()
    versions, indexes = _schema_state(backend.schema)
    assert versions == list(range(1, len(MIGRATIONS) + 1)) and len(MIGRATIONS) == SCHEMA_VERSION
    assert {"tasks_pkey", "tasks_queued", "tasks_queued_created", "tasks_due",
            "tasks_unique", "tasks_leases"} <= indexes
    assert not indexes & {"tasks_ready", "tasks_ready_created"}  # migration 5 dropped them
    with admin() as conn:
        options = conn.execute(
            "SELECT reloptions FROM pg_class WHERE oid = %s::regclass", (backend.table,)
        ).fetchone()[0]
    assert any(o.startswith("autovacuum_vacuum_scale_factor=") for o in options)
    backend.close()


def test_migrations_race_between_threads_and_processes(url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def migrate() -> None:
        try:
            backend = PostgresBackend(url)
            barrier.wait(10)
            backend.migrate()
            backend.close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    code = (
        "import sys; from taskbasket.backends.postgres import PostgresBackend; "
        "PostgresBackend(sys.argv[1]).migrate()"
    )
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}:{ROOT}")
    processes = [
        subprocess.Popen([sys.executable, "-c", code, url], env=env, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for process in processes:
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr.decode()
    assert errors == []
    versions, _ = _schema_state(split_url(url)[1])
    assert versions == list(range(1, SCHEMA_VERSION + 1))


def test_newer_schema_is_refused(url: str) -> None:
    backend = PostgresBackend(url)
    backend.migrate()
    with admin() as conn:
        conn.execute(f'INSERT INTO "{backend.schema}".schema_version VALUES (%s)',
                     (SCHEMA_VERSION + 1,))
    with pytest.raises(BackendUnavailableError, match="upgrade taskbasket"):
        PostgresBackend(url).migrate()
    backend.close()


# The sha256 of each shipped migration file: a shipped migration is never edited (a store
# migrated by it would not get the edit); a change of schema is a new file.
SHIPPED_MIGRATIONS = {
    1: "a909d8589b32938c1f0987bf91ce714bacbad1d9e1d9fc922fb13f94754344bd",
    2: "c5430efea24f80c171bc8862bb26bfdafb9f46b392c600509df708dfde2f3d9e",
    3: "8e8f9c22328eb743b548fdea6374f90af05e2814b55db3e39c0a5a3e4cfb4f11",
    4: "6b7b3fb750a665f99178c88e604e87686d929626c0b9bfd9352ccc73e608ffbe",
    5: "e96adc210dd01c3194ac0c24d423413fbb387e9b6ae528e3c96fec935ef944ac",
    6: "6d99a92bad55fe98aa0ffaa0b5e9225c308f8c0ca9ea82adfcad77c5c7890b9c",
    7: "507da9f6763053026bcb66774b68259779157bf05814783e9b4b9c9a426ae92c",
    8: "a2f4ed747783e6acdea5da183d471e2a43fa2f4ae528540e6481cb1ba553ce84",
    9: "9d1adba42581618dc45c11f1f3ce9576c9807be9004503051b8988793902acb9",
    10: "f41373df2f6c83e917317e226f3dd7ac8634b97d6a561407cde724c1183448b1",
    11: "93258d354c84b693e04ca8f0c3ab6b25360b3f2d0c518a16bf1bb9b4423d4f4d",
    12: "cfd5341cc46d67766cad1c05d47dc98a126cb10987835b47c1aa89305fc2adc8",
}


def test_migration_files_are_numbered_one_to_schema_version() -> None:
    folder = resources.files("taskbasket.backends.postgres").joinpath("migrations")
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))
    assert [int(name.split("_", 1)[0]) for name in names] == list(range(1, SCHEMA_VERSION + 1))
    assert [m.number for m in MIGRATIONS] == list(range(1, len(names) + 1))
    assert len(MIGRATIONS) == SCHEMA_VERSION
    assert all("{s}." in m.text for m in MIGRATIONS)  # the schema's placeholder


def test_shipped_migrations_are_unchanged() -> None:
    for migration in MIGRATIONS:
        if migration.number in SHIPPED_MIGRATIONS:
            digest = hashlib.sha256(migration.text.encode()).hexdigest()
            assert digest == SHIPPED_MIGRATIONS[migration.number], (
                f"migration {migration.number} ({migration.name}) has shipped: add a new "
                "migration file instead of editing it")


# --------------------------------------------------------------------------- claims


def test_two_threads_never_claim_one_task_twice(url: str) -> None:
    with Basket(url) as basket:
        basket.enqueue_many("job", [(i,) for i in range(3000)])
        seen: list[list[str]] = [[], []]
        start = threading.Barrier(2)

        def drain(slot: int) -> None:
            backend = basket.backend
            start.wait(10)
            while batch := backend.tasks_claim(claim_params(limit=7)):
                seen[slot].extend(t.id for t in batch)
                backend.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in batch])

        threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        both = seen[0] + seen[1]
        assert len(both) == len(set(both)) == 3000
        assert seen[0] and seen[1]  # both really took part
        assert basket.count(State.SUCCEEDED) == 3000


def test_both_claim_branches_skip_the_rows_another_transaction_locked(url: str) -> None:
    """A queued task and a due scheduled one, each locked elsewhere, are skipped by the
    claim, which takes the others; once free, they are claimed in priority order."""
    with Basket(url) as basket:
        backend = basket.backend
        refs = [basket.enqueue("job", args=[p], priority=p, strict=False) for p in (9, 8, 1, 0)]
        ids = [ref.id for ref in refs]
        with admin() as conn:  # 8 and 0 become scheduled tasks that came due
            conn.execute(f"UPDATE {backend.table} SET state = 'scheduled', "
                         "run_at = now() - interval '1 second' WHERE id = ANY(%s::uuid[])",
                         ([ids[1], ids[3]],))
        with admin() as locker, locker.transaction():
            locker.execute(f"SELECT id FROM {backend.table} WHERE id = ANY(%s::uuid[]) "
                           "FOR UPDATE", ([ids[0], ids[1]],))
            taken = backend.tasks_claim(claim_params(limit=10))
            assert [t.id for t in taken] == [ids[2], ids[3]]
        assert [t.id for t in backend.tasks_claim(claim_params(limit=10))] == ids[:2]


def test_claim_walks_the_ready_index_past_a_million_finished_rows(url: str) -> None:
    """The claim reads only the rows it takes, however many finished rows the table has
    and whatever the statistics say (they are taken here before the pending rows exist)."""
    with Basket(url) as basket:
        backend = basket.backend
        basket.migrate()
        with admin() as conn:
            conn.execute(
                f"INSERT INTO {backend.table} (id, name, queue, state, payload, max_attempts, "
                "timeout, created_at, run_at, finished_at) "
                "SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'job', "
                "'default', 'succeeded', '[[], {}]', 3, 60, now(), now(), now() "
                "FROM generate_series(1, 200000) AS i"
            )
            conn.execute(f"ANALYZE {backend.table}")
        basket.enqueue_many("job", [(i,) for i in range(5000)])
        _assert_two_ranges(_claim_plan(backend, ["job"]), "tasks_queued")
        # what a claim costs beside a million finished rows: make bench
        # (benchmarks/scenario_postgres_claim_flat.py)


def _claim_plan(backend: PostgresBackend, names: list[str] | None = None,
                sql: str | None = None) -> str:
    """The plan auto_explain reports for one claim of ``names`` (None: any) by ``sql``
    (default: the claim in priority order), rolled back."""
    with admin() as conn:
        notices: list[str] = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        try:
            conn.execute("LOAD 'auto_explain'")
        except psycopg.Error as exc:
            skip_unless_required("postgres", f"auto_explain is not available: {exc}")
        for setting in ("log_min_duration = 0", "log_nested_statements = on",
                        "log_level = notice", "log_analyze = on"):
            conn.execute(f"SET auto_explain.{setting}")
        with conn.transaction(force_rollback=True):
            rows = conn.execute(sql or backend.statements.claim,
                                ["t", 30.0, "w", names, None, 32, 1])
            assert len(rows.fetchall()) == 32
    [plan] = [n for n in notices if "SKIP LOCKED" in n and "claimed AS" in n]
    return plan


def _assert_two_ranges(plan: str, queued_index: str) -> None:
    """The claim's plan: queued tasks walked through ``queued_index`` in claim order, due
    scheduled or retrying ones through the range run_at <= now() of tasks_due, each
    locked with SKIP LOCKED; the one sort is of the branches' rows (the merge), and the
    disabled sort's cost starts no JIT compilation."""
    assert f"Index Scan using {queued_index} on" in plan, plan
    assert "Index Scan using tasks_due on" in plan and "Index Cond: (run_at <= now())" in plan
    assert "tasks_pkey" in plan and "Seq Scan" not in plan, plan
    assert plan.count("LockRows") == 2, plan
    assert plan.count("->  Sort  ") == 1 and "Sort Key: queued." in plan, plan
    assert "JIT" not in plan, plan


def test_claim_plan_is_pinned_on_an_empty_and_unanalyzed_table(url: str) -> None:
    """A plan cached while the table is small must not scan it whole once it is big."""
    with Basket(url) as basket:
        basket.enqueue_many("job", [(i,) for i in range(40)])
        for names in (["job"], None):  # a worker's claim, and the relay's (any name)
            _assert_two_ranges(_claim_plan(basket.backend, names), "tasks_queued")


def test_created_order_claim_walks_its_own_index(url: str) -> None:
    with Basket(url) as basket:
        basket.enqueue_many("job", [(i,) for i in range(40)])
        backend = basket.backend
        assert isinstance(backend, PostgresBackend)
        for names in (["job"], None):
            _assert_two_ranges(_claim_plan(backend, names, backend.statements.claim_created),
                               "tasks_queued_created")


# --------------------------------------------------------------------------- inserts


def test_big_batches_are_copied_with_the_same_meaning(url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from taskbasket.backends.postgres import COPY_THRESHOLD

    count = COPY_THRESHOLD + 50
    with Basket(url) as basket:
        listener = basket.backend.listener(None)
        try:
            listener.wait(0.01)
            later = basket.enqueue_many("job", [(i,) for i in range(count)], delay=3600)
            assert not listener.wait(0.2)  # nothing is due: nobody is woken
            past = datetime.now(UTC) - timedelta(minutes=1)
            due = basket.enqueue_many("job", [(i,) for i in range(count)], run_at=past,
                                      queue="q2")
            assert listener.wait(5)
        finally:
            listener.close()
        assert basket.count(State.SCHEDULED) == count and basket.count(State.QUEUED) == count
        task = basket.get(later[7].id)
        assert task is not None and task.args == [7] and task.queue == "default"
        assert abs((task.run_at - task.created_at).total_seconds() - 3600) < 1
        task = basket.get(due[-1].id)
        assert task is not None and task.queue == "q2" and task.run_at == past
        assert abs((task.created_at - basket.backend.now()).total_seconds()) < 5
        claimed = basket.backend.tasks_claim(claim_params(limit=count + 10))
        assert {t.id for t in claimed} == {r.id for r in due}


def test_a_copied_batch_is_all_or_nothing(url: str) -> None:
    from taskbasket.backends.base import NewTask
    from taskbasket.backends.postgres import COPY_THRESHOLD
    from taskbasket.ids import new_task_id

    with Basket(url) as basket:
        good = [NewTask(id=new_task_id(), name="job", queue="default", payload="[[], {}]")
                for _ in range(COPY_THRESHOLD)]
        bad = NewTask(id="not-a-uuid", name="job", queue="default", payload="[[], {}]")
        with pytest.raises(psycopg.DataError):
            basket.backend.tasks_insert([*good, bad])
        assert basket.count() == 0
        with psycopg.connect(split_url(url)[0]) as conn:
            refs = basket.enqueue_many("job", [(i,) for i in range(COPY_THRESHOLD)],
                                       connection=conn)
            assert basket.count() == 0  # not committed
            conn.rollback()
            assert basket.count() == 0
            refs = basket.enqueue_many("job", [(i,) for i in range(COPY_THRESHOLD)],
                                       connection=conn)
            conn.commit()
        assert basket.count(State.QUEUED) == COPY_THRESHOLD == len({r.id for r in refs})


# --------------------------------------------------------------------------- notifications


def test_listen_notify_wakes_only_listeners_of_the_queue(url: str) -> None:
    with Basket(url) as producer, Basket(url) as consumer:
        producer.migrate()
        everything = consumer.backend.listener(None)
        only_a = consumer.backend.listener(["a"])
        try:
            assert not everything.wait(0.05)  # nothing yet (a first wait may see the connect)
            producer.enqueue("job", queue="b")
            assert everything.wait(5)
            assert not only_a.wait(0.2)
            producer.enqueue("job", queue="a")
            assert only_a.wait(30)  # woken by the notification, not by the timeout
            producer.enqueue("job", queue="a", delay=3600)  # not ready: no wake-up
            assert not only_a.wait(0.2)
        finally:
            everything.close()
            only_a.close()


def test_close_makes_a_waiting_listener_return_at_once(url: str) -> None:
    backend = PostgresBackend(url)
    backend.migrate()
    listener = backend.listener(None)
    returned: list[float] = []

    def waiter() -> None:
        listener.wait(30)
        returned.append(time.monotonic())

    thread = threading.Thread(target=waiter)
    thread.start()
    wait_for(lambda: listener._lock.locked(), 5, "the waiter to block")  # type: ignore[attr-defined]
    closed_at = time.monotonic()
    listener.close()
    thread.join(5)
    assert returned and returned[0] - closed_at < 1
    assert listener.wait(0.01) is False
    backend.close()


def test_released_and_promoted_tasks_wake_listeners(url: str) -> None:
    with Basket(url) as basket:
        basket.enqueue("job")
        later = basket.enqueue("job", delay=0.2)
        listener = basket.backend.listener(None)
        try:
            listener.wait(0.01)
            [task] = basket.backend.tasks_claim(claim_params(limit=1))
            assert task.id != later.id
            basket.backend.tasks_finish([Outcome(task.lease, OutcomeKind.RELEASED)])
            assert listener.wait(5)
            wait_for(lambda: maintain(basket.backend).promoted, 10, "promotion")
            assert listener.wait(5)
        finally:
            listener.close()


# --------------------------------------------------------------------------- transactions


def test_transactional_enqueue_on_a_psycopg_connection(url: str) -> None:
    with Basket(url) as basket:
        basket.migrate()
        listener = basket.backend.listener(None)
        listener.wait(0.01)
        with psycopg.connect(split_url(url)[0]) as conn:
            rolled_back = basket.enqueue("job", args=[1], connection=conn)
            assert basket.get(rolled_back.id) is None
            conn.rollback()
            committed = basket.enqueue("job", args=[2], connection=conn)
            assert not listener.wait(0.2)  # NOTIFY is delivered only on commit
            conn.commit()
            assert listener.wait(5)
        listener.close()
        assert basket.get(rolled_back.id) is None
        task = basket.get(committed.id)
        assert task is not None and task.args == [2] and task.state == "queued"


def test_transactional_enqueue_keeps_unique_keys(url: str) -> None:
    with Basket(url) as basket, psycopg.connect(split_url(url)[0]) as conn:
        first = basket.enqueue("job", unique_key="k", connection=conn)
        second = basket.enqueue("job", unique_key="k", connection=conn)
        assert first.created and not second.created and second.id == first.id
        conn.commit()
        assert basket.count() == 1


def test_transactional_enqueue_async(url: str) -> None:
    with Basket(url) as basket:
        @basket.task
        async def job(n: int) -> None: ...

        basket.migrate()

        async def main() -> tuple[str, str]:
            conninfo = split_url(url)[0]
            async with await psycopg.AsyncConnection.connect(conninfo) as conn:
                gone = await job.options(connection=conn).enqueue_async(1)
                await conn.rollback()
                kept = await job.options(connection=conn).enqueue_async(2)
                assert basket.get(kept.id) is None  # not committed yet
                await conn.commit()
            return gone.id, kept.id

        gone, kept = asyncio.run(main())
        assert basket.get(gone) is None
        task = basket.get(kept)
        assert task is not None and task.args == [2]


def test_wrong_connection_types_are_refused(url: str) -> None:
    with Basket(url) as basket:
        import sqlite3

        with pytest.raises(ConfigurationError, match=r"psycopg\.Connection"):
            basket.enqueue("job", connection=sqlite3.connect(":memory:"))

        async def main() -> None:
            async with await psycopg.AsyncConnection.connect(split_url(url)[0]) as conn:
                with pytest.raises(ConfigurationError, match="enqueue_async"):
                    basket.enqueue("job", connection=conn)
            with pytest.raises(ConfigurationError, match=r"psycopg\.AsyncConnection"):
                await basket.backend.tasks_insert_async(
                    basket._new_tasks("job", [((), {})], _options()), object())

        asyncio.run(main())
        assert basket.count() == 0


def test_a_connection_to_another_database_is_explained(url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    database = f"tb_elsewhere_{os.getpid()}_{os.urandom(3).hex()}"
    with admin() as conn:
        conn.execute(f"CREATE DATABASE {database}")
    try:
        with Basket(url) as basket:
            other = urlunsplit(urlsplit(split_url(url)[0])._replace(path=f"/{database}"))
            with psycopg.connect(other) as conn, pytest.raises(
                ConfigurationError, match="on the store's database"
            ):
                basket.enqueue("job", connection=conn)
    finally:
        with admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def _options() -> Any:
    from taskbasket.definition import EnqueueOptions

    return EnqueueOptions()


def test_a_sync_enqueue_on_an_async_session_says_to_use_enqueue_async(url: str) -> None:
    """A real SQLAlchemy AsyncSession and AsyncConnection (postgresql+psycopg) and a
    psycopg AsyncConnection: a sync enqueue refuses them with one clear message, and no
    coroutine is left unawaited; enqueue_async joins the session's transaction."""
    import gc
    import warnings

    sqlalchemy_asyncio = pytest.importorskip("sqlalchemy.ext.asyncio")
    conninfo = split_url(url)[0]
    engine_url = "postgresql+psycopg://" + conninfo.split("://", 1)[1]
    with Basket(url) as basket:
        @basket.task
        def job(n: int) -> None: ...

        basket.migrate()

        async def main() -> tuple[str, str]:
            engine = sqlalchemy_asyncio.create_async_engine(engine_url)
            try:
                async with sqlalchemy_asyncio.AsyncSession(engine) as session:
                    with pytest.raises(ConfigurationError, match="use it. Enqueue with "
                                       r"enqueue_async\(\)"):
                        job.options(connection=session).enqueue(1)
                    gone = await job.options(connection=session).enqueue_async(1)
                    await session.rollback()
                    kept = await job.options(connection=session).enqueue_async(2)
                    await session.commit()
                async with engine.connect() as connection:
                    with pytest.raises(ConfigurationError, match="AsyncConnection"):
                        basket.enqueue("job", [3], connection=connection)
                async with await psycopg.AsyncConnection.connect(conninfo) as conn:
                    with pytest.raises(ConfigurationError, match="enqueue_async"):
                        job.options(connection=conn).enqueue(4)
            finally:
                await engine.dispose()
            return gone.id, kept.id

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gone, kept = asyncio.run(main())
            gc.collect()
        assert not [w for w in caught if "never awaited" in str(w.message)]
        assert basket.get(gone) is None
        assert [(t.id, t.args) for t in basket.list()] == [(kept, [2])]


# --------------------------------------------------------------------------- resilience


def _terminate(application_name: str) -> int:
    """Kill every server process serving this application name; wait until they are gone."""
    query = (
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
        "AND pid <> pg_backend_pid()"
    )
    with admin() as conn:
        pids = [row[0] for row in conn.execute(query, (application_name,))]
        conn.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
        wait_for(lambda: not conn.execute(  # (the pool may already be replacing them)
            "SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchall(),
            10, "the terminated connections to go")
    return len(pids)


def test_terminated_connections_fail_the_operation_then_recover(url: str) -> None:
    name = f"tbterm{os.getpid()}{os.urandom(3).hex()}"
    with Basket(with_option(url, f"application_name={name}&pool_timeout=5")) as basket:
        backend = basket.backend
        ref = basket.enqueue("job")
        # a claim in flight, blocked on a lock, when its connection is killed: it fails
        blocker = admin()
        blocker.execute("BEGIN")
        blocker.execute(f"LOCK TABLE {backend.table} IN ACCESS EXCLUSIVE MODE")
        outcome: list[BaseException | list[Any]] = []

        def claim() -> None:
            try:
                outcome.append(backend.tasks_claim(claim_params()))
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=claim)
        thread.start()
        try:
            with admin() as conn:
                wait_for(lambda: conn.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = %s "
                    "AND wait_event_type = 'Lock'", (name,)).fetchone(), 10,
                    "the claim to block")
            assert _terminate(name) >= 1
            thread.join(10)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert outcome and isinstance(outcome[0], psycopg.OperationalError)
        # and every connection the pool opened since: the next operations reconnect
        _terminate(name)
        [task] = backend.tasks_claim(claim_params())
        assert task.id == ref.id
        assert backend.tasks_finish([Outcome(task.lease, OutcomeKind.SUCCEEDED)]) == [True]
        assert basket.get(ref.id).state == "succeeded"  # type: ignore[union-attr]


def test_listener_reconnects_after_its_connection_is_killed(url: str) -> None:
    name = f"tblisten{os.getpid()}{os.urandom(3).hex()}"
    with Basket(with_option(url, f"application_name={name}")) as basket:
        basket.migrate()
        listener = basket.backend.listener(None)
        try:
            listener.wait(0.01)
            assert _terminate(name) >= 1  # the listener's (the pool is not open yet)
            assert listener.wait(5)  # re-connected: the worker should look for work
            wait_for(lambda: not listener.wait(0.05), 5, "the listener to settle")
            with Basket(url) as producer:
                producer.enqueue("job")
            assert listener.wait(5)
        finally:
            listener.close()


@pytest.fixture
def private_server() -> Iterator[PrivatePostgres]:
    """A cluster of this test's own: restarting the shared one would break every other
    test running against it."""
    missing = PrivatePostgres.missing()
    if missing:
        skip_unless_required("postgres", f"cannot run a private cluster to restart: {missing}")
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.mark.slow
def test_server_restart_loses_no_task(private_server: PrivatePostgres) -> None:
    done: set[str] = set()
    lock = threading.Lock()
    basket = Basket(f"{private_server.url}?schema=tb_restart&pool_timeout=2")

    @basket.task
    def job(n: int) -> None:
        time.sleep(0.005)
        from taskbasket import current_task

        ctx = current_task()
        assert ctx is not None
        with lock:
            done.add(ctx.id)

    def started_at() -> Any:
        with psycopg.connect(private_server.url, autocommit=True) as conn:
            return conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]

    first = {r.id for r in job.enqueue_many([(i,) for i in range(300)])}
    listener = basket.backend.listener(None)
    worker = basket.worker(concurrency=8, visibility_timeout=3, poll_interval=0.2)
    worker.start()
    try:
        wait_for(lambda: len(done) >= 20, 30, "work to begin")
        listener.wait(0.01)
        before = started_at()
        private_server.restart()
        assert listener.wait(15)  # it noticed, reconnected, and says: look for work

        def enqueue_again() -> set[str] | None:
            try:
                return {r.id for r in job.enqueue_many([(i,) for i in range(300)])}
            except (psycopg.OperationalError, BackendUnavailableError):
                return None  # the server may still be starting

        second = wait_for(enqueue_again, 30, "enqueue to work again")
        assert started_at() > before  # it really was restarted
        everything = first | second
        wait_for(lambda: basket.count(State.SUCCEEDED) == 600, 60, "every task to succeed")
        assert everything <= done
        assert {t.id for t in basket.list(State.SUCCEEDED, limit=1000)} == everything
    finally:
        worker.stop()
        listener.close()
        basket.close()


def test_a_url_with_no_host_connects_over_the_local_socket() -> None:
    """``postgresql:///db`` is libpq's local-socket form: its "//" must survive into the
    connection string (rebuilding the URL with urlsplit once dropped it, and libpq then
    refused the URL)."""
    socket_dir = "/var/run/postgresql"
    if not os.path.exists(os.path.join(socket_dir, ".s.PGSQL.5432")):
        skip_unless_required("postgres", f"no local PostgreSQL socket in {socket_dir}")
    url = f"postgresql:///test?schema=tb_socket_{os.getpid()}"
    backend = PostgresBackend(url)
    assert backend.conninfo == "postgresql:///test"
    try:
        backend.migrate()
        assert backend.tasks_count(TaskFilter()) == 0
    finally:
        backend.close()
        factory("postgres").drop(url)
