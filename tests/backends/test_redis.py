"""Redis-specific tests, against the real server (never a mock).

What the conformance suite cannot see from the seam: key prefixes keep stores apart, the
counters behind ``tasks_stats`` stay exact, no ``KEYS`` command is ever sent, claims race
safely, the listener wakes on enqueue, and the backend recovers from killed connections. Server
restarts (of a private server, with and without persistence) are in
test_redis_restart.py.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from taskbasket import Basket, State
from taskbasket.backends import open_backend
from taskbasket.backends.base import (
    CancelParams,
    ClaimedTask,
    ClaimParams,
    LeaderParams,
    LeaseExtendParams,
    Listener,
    ListParams,
    NewTask,
    Outcome,
    OutcomeKind,
    PruneParams,
    TaskFilter,
)
from taskbasket.errors import (
    BackendUnavailableError,
    ConfigurationError,
    StoreCorruptedError,
    UnsupportedOperationError,
)
from taskbasket.ids import new_task_id
from taskbasket.task import FINAL_STATES, TaskRef
from tests.helpers import maintain, wait_for
from tests.stores import required_stores, skip_unless_required
from tests.stores.redis import BASE_URL, FACTORY

try:
    import redis
except ImportError as exc:  # pragma: no cover - depends on the environment
    skip_unless_required("redis", f"redis-py is not installed ({exc})", allow_module_level=True)

from taskbasket.backends.redis import RedisBackend, inserts

PACKAGE = Path(__file__).resolve().parents[2] / "src/taskbasket/backends/redis"


@pytest.fixture(autouse=True)
def _server() -> None:
    reason = FACTORY.unavailable()
    if reason:
        if "redis" in required_stores():
            pytest.fail(f"redis is required (TASKBASKET_REQUIRE_BACKENDS) but: {reason}")
        pytest.skip(reason)


def _url(tag: str) -> str:
    return FACTORY.create(f"{tag}_{os.getpid()}_{os.urandom(3).hex()}")


@pytest.fixture
def url() -> Iterator[str]:
    """A new store whose connections carry a client name of their own (see ``name_of``)."""
    made = f"{_url('redis')}&client_name=tb-test-{os.urandom(4).hex()}"
    try:
        yield made
    finally:
        FACTORY.drop(made)


@pytest.fixture
def backend(url: str) -> Iterator[RedisBackend]:
    b = RedisBackend(url)
    b.migrate()
    try:
        yield b
    finally:
        b.close()


def admin() -> redis.Redis:
    return redis.Redis.from_url(BASE_URL, socket_timeout=5)


def name_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["client_name"][0]


def blocked(name: str) -> int:
    """How many connections named ``name`` wait in BLPOP (other tests' do not count)."""
    client = admin()
    try:
        return sum(1 for c in client.client_list()
                   if c.get("name") == name and c.get("cmd") == "blpop" and "b" in c["flags"])
    finally:
        client.close()


def wait_until_blocked(name: str) -> None:
    wait_for(lambda: blocked(name) > 0, 5, "a listener to block in BLPOP")


def new(name: str = "job", queue: str = "default", **fields: object) -> NewTask:
    return NewTask(id=new_task_id(), name=name, queue=queue, payload='{"args":[],"kwargs":{}}',
                   **fields)  # type: ignore[arg-type]


def claim(b: RedisBackend, names: tuple[str, ...] = ("job",), limit: int = 100,
          lease: float = 30.0, queues: list[str] | None = None) -> list[ClaimedTask]:
    return b.tasks_claim(ClaimParams("w", names, limit, lease, queues))


def truth(b: RedisBackend) -> dict[tuple[str, State], int]:
    """Counts per (queue, state) from the task hashes themselves, page by page."""
    counts: Counter[tuple[str, State]] = Counter()
    before = None
    while True:
        page = b.tasks_list(ListParams(limit=37, before_id=before))
        if not page:
            return dict(counts)
        for task in page:
            counts[(task.queue, task.state)] += 1
        before = page[-1].id


def assert_counts_exact(b: RedisBackend) -> None:
    expected = truth(b)
    assert b.tasks_stats() == expected
    for state in State:
        by_state = sum(n for (_, s), n in expected.items() if s == state)
        assert b.tasks_count(TaskFilter(states=[state])) == by_state
        for name in ("job", "other"):
            listed = [t for t in _all(b) if t.state == state and t.name == name]
            assert b.tasks_count(TaskFilter(states=[state], names=[name])) == len(listed)
    assert b.tasks_count(TaskFilter()) == sum(expected.values())


def drain(listener: Listener) -> None:
    """Take the wake-ups left by earlier enqueues (each wakes one idle worker once)."""
    deadline = time.monotonic() + 5
    while listener.wait(0.05):
        assert time.monotonic() < deadline


def _all(b: RedisBackend) -> list:  # type: ignore[type-arg]
    return b.tasks_list(ListParams(limit=100_000))


# --------------------------------------------------------------------------- configuration


def test_url_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="prefix"):
        RedisBackend("redis://127.0.0.1:6379/0?prefix=a:b")
    with pytest.raises(ConfigurationError, match="did you mean 'prefix'"):
        RedisBackend("redis://127.0.0.1:6379/0?prefx=a")
    with pytest.raises(ConfigurationError, match="unknown Redis store option"):
        RedisBackend("redis://127.0.0.1:6379/0", busy_timeout=3)
    b = open_backend("redis://127.0.0.1:6379/0?prefix=tb_options&socket_timeout=3")
    assert isinstance(b, RedisBackend) and b.prefix == "tb_options"
    assert b.capabilities.server_clock and not b.capabilities.transactional_enqueue
    b.close()


def test_an_unknown_option_lists_the_options_by_name() -> None:
    with pytest.raises(ConfigurationError) as caught:
        RedisBackend("redis://127.0.0.1:6379/0?sockettimeout=3")
    message = str(caught.value)
    assert "socket_timeout" in message and "health_check_interval" in message
    assert "{" not in message and "join" not in message  # the list, not the code making it


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/five", "redis://127.0.0.1:6379/0/1",
                                 "rediss://127.0.0.1:6379/-1", "redis://127.0.0.1:6379/1x"])
def test_a_database_that_is_not_a_number_is_refused_by_name(url: str) -> None:
    part = urlsplit(url).path[1:]
    with pytest.raises(ConfigurationError, match=re.escape(f"names database {part!r}")):
        RedisBackend(url)


def test_database_numbers_and_no_database_are_accepted() -> None:
    for url in ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379/", "redis://127.0.0.1:6379/3"):
        RedisBackend(url + "?prefix=tb_database").close()


def test_transactional_enqueue_is_refused_clearly(backend: RedisBackend) -> None:
    with pytest.raises(UnsupportedOperationError, match="transaction"):
        backend.tasks_insert([new()], connection=object())
    assert backend.tasks_count(TaskFilter()) == 0


def test_unreachable_server_names_host_and_port() -> None:
    b = RedisBackend("redis://127.0.0.1:1/0?prefix=tb_nowhere&socket_connect_timeout=1")
    with pytest.raises(BackendUnavailableError, match=r"127\.0\.0\.1:1"):
        b.now()
    with pytest.raises(redis.exceptions.ConnectionError):  # also what redis-py users catch
        b.tasks_insert([new()])
    b.close()


# --------------------------------------------------------------------------- isolation


def test_two_prefixes_never_see_each_other() -> None:
    url_a, url_b = _url("pa"), _url("pb")
    a, b = RedisBackend(url_a), RedisBackend(url_b)
    try:
        a.tasks_insert([new() for _ in range(3)])
        b.tasks_insert([new(queue="other")])
        assert a.tasks_count(TaskFilter()) == 3 and b.tasks_count(TaskFilter()) == 1
        assert {t.queue for t in _all(b)} == {"other"}
        assert set(b.tasks_stats()) == {("other", State.QUEUED)}
        assert len(claim(b, queues=None)) == 1
        assert len(claim(a)) == 3
        assert b.tasks_delete(TaskFilter()) == 1
        assert a.tasks_count(TaskFilter()) == 3
        listener = b.listener(None)
        try:
            drain(listener)  # the wake-up b's own insert left
            a.tasks_insert([new()])
            # a's wake-ups do not reach b's workers: they go to a's lists only
            client = admin()
            try:
                assert client.llen(f"{a.prefix}:wake-all") >= 1
                assert client.llen(f"{b.prefix}:wake-all") == 0
                assert client.llen(f"{b.prefix}:wake:default") == 0
            finally:
                client.close()
            assert listener.wait(0) is False
        finally:
            listener.close()
    finally:
        a.close()
        b.close()
        FACTORY.drop(url_a)
        FACTORY.drop(url_b)


# --------------------------------------------------------------------------- counts


def test_counts_stay_exact_through_every_transition(backend: RedisBackend) -> None:
    b = backend
    b.tasks_insert([new() for _ in range(6)] + [new("other", "q2") for _ in range(2)])
    b.tasks_insert([new(delay=3600), new("other", delay=3600)])
    assert_counts_exact(b)
    s, f, r, x, e = claim(b, limit=5)
    assert_counts_exact(b)
    assert b.tasks_finish([
        Outcome(s.lease, OutcomeKind.SUCCEEDED),
        Outcome(f.lease, OutcomeKind.FAILED, error="boom"),
        Outcome(r.lease, OutcomeKind.RETRY, error="again", retry_delay=0),
        Outcome(x.lease, OutcomeKind.RELEASED),
    ]) == [True, True, True, True]
    assert_counts_exact(b)
    maintain(b)  # promotes the due retry
    assert_counts_exact(b)
    # a lease that runs out is rescued by the server's clock
    [short] = claim(b, limit=1, lease=0.05)
    wait_for(lambda: short.id in {t.id for t in maintain(b).requeued}, 5, "the rescue")
    assert_counts_exact(b)
    assert b.tasks_cancel(CancelParams(TaskFilter(ids=[e.id]), "why")) == 1  # a running task
    assert_counts_exact(b)
    scheduled = TaskFilter(names=["other"], states=[State.SCHEDULED])
    assert b.tasks_cancel(CancelParams(scheduled, "why")) == 1
    assert_counts_exact(b)
    assert b.tasks_retry(TaskFilter(states=[State.FAILED, State.CANCELLED])) == 3
    assert_counts_exact(b)
    b.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in claim(b, limit=3)])
    every_final = dict.fromkeys(FINAL_STATES, 0.0)
    assert [b.tasks_prune(PruneParams(every_final, limit=2)) for _ in range(3)] == [2, 2, 0]
    assert_counts_exact(b)
    assert b.tasks_delete(TaskFilter(queues=["q2"])) == 2
    assert_counts_exact(b)
    left = b.tasks_count(TaskFilter())
    assert left > 0 and b.tasks_delete(TaskFilter()) == left
    assert b.tasks_count(TaskFilter()) == 0 and b.tasks_stats() == {}
    # nothing is left behind but the layout version
    client = admin()
    keys = {k.decode() for k in client.scan_iter(match=f"{b.prefix}:*")}
    client.close()
    assert {k for k in keys if not k.startswith(f"{b.prefix}:wake")} == {f"{b.prefix}:schema"}


def test_counting_with_name_filters_and_finish_times(backend: RedisBackend) -> None:
    b = backend
    b.tasks_insert([new() for _ in range(5)] + [new("other") for _ in range(4)])
    done = claim(b, names=("job", "other"), limit=4)
    b.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in done])
    finished_names = Counter(t.name for t in done)
    assert b.tasks_count(TaskFilter(names=["job"], finished_before=0)) == finished_names["job"]
    assert b.tasks_count(TaskFilter(finished_before=0)) == 4
    assert b.tasks_count(TaskFilter(finished_before=3600)) == 0
    assert b.tasks_count(TaskFilter(queues=["default"], finished_before=3600)) == 0
    assert b.tasks_count(TaskFilter(names=[])) == 0


def test_listing_pages_with_a_cursor(backend: RedisBackend) -> None:
    b = backend
    ids = [r.id for r in b.tasks_insert([new(queue=f"q{i % 3}") for i in range(25)])]
    seen: list[str] = []
    before = None
    while page := b.tasks_list(ListParams(TaskFilter(queues=["q0", "q2"]), 4, before)):
        seen.extend(t.id for t in page)
        before = page[-1].id
    expected = [i for n, i in enumerate(ids) if n % 3 in (0, 2)]
    assert seen == sorted(expected, reverse=True)


# --------------------------------------------------------------------------- inserts


def _snapshot(b: RedisBackend) -> dict[str, bytes]:
    """Every key under the store's prefix, with its value as DUMP serialises it."""
    client = admin()
    try:
        return {key.decode(): client.dump(key)
                for key in client.scan_iter(match=f"{b.prefix}:*", count=1000)}
    finally:
        client.close()


def test_a_batch_that_would_fail_midway_stores_nothing(backend: RedisBackend) -> None:
    """Redis keeps what a script wrote before an error, so the insert script reads every
    key it will write (and checks its arguments) before its first write."""
    b = backend
    b.tasks_insert([new(queue="a"), new(queue="b", delay=3600)])
    client = admin()
    client.set(f"{b.prefix}:idx:queued:c\tjob", "not a sorted set")  # taskbasket never
    client.hset(f"{b.prefix}:counts", "d\tqueued", "many")  # writes either of these
    client.close()
    before = _snapshot(b)
    for bad in ("c", "d"):
        batch = [new(queue="a") for _ in range(20)] + [new(queue="b", delay=3600),
                                                         new(queue=bad), new(queue="a")]
        with pytest.raises(StoreCorruptedError, match="WRONGTYPE" if bad == "c" else "counter"):
            b.tasks_insert(batch)
        assert _snapshot(b) == before
        with pytest.raises(StoreCorruptedError):
            b.tasks_insert([new(queue=bad)])  # one task: no half-written task either
        assert _snapshot(b) == before
    assert [t.queue for t in _all(b)] == ["b", "a"]


def test_a_batch_of_several_calls_stores_nothing_if_a_later_call_would_fail(
    backend: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch above INSERT_CHUNK is several script calls in one MULTI; each checks the keys
    of the whole batch, so the first fails before it writes."""
    b = backend
    monkeypatch.setattr(inserts, "INSERT_CHUNK", 10)
    client = admin()
    client.set(f"{b.prefix}:ready:z\tjob", "not a sorted set")
    before = _snapshot(b)
    batch = [new() for _ in range(25)] + [new(queue="z")]  # queue z is in the third call
    with pytest.raises(StoreCorruptedError, match="WRONGTYPE"):
        b.tasks_insert(batch)
    assert _snapshot(b) == before
    client.delete(f"{b.prefix}:ready:z\tjob")
    client.close()
    assert b.tasks_insert(batch) == [TaskRef(t.id, True) for t in batch]
    assert b.tasks_count(TaskFilter()) == 26
    assert_counts_exact(b)


def test_a_batch_with_a_bad_task_stores_nothing(backend: RedisBackend) -> None:
    b = backend
    b.tasks_insert([new()])
    before = _snapshot(b)
    bad_priority = NewTask(id=new_task_id(), name="job", queue="default", payload="{}",
                           priority="high")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="high"):
        b.tasks_insert([new(), new(), bad_priority, new()])
    no_payload = NewTask(id=new_task_id(), name="job", queue="default",
                         payload=None)  # type: ignore[arg-type]
    with pytest.raises((TypeError, redis.exceptions.DataError)):
        b.tasks_insert([new(), no_payload])
    # the script checks its arguments too, before it writes: a group that claims more
    # tasks than it holds
    args = inserts.insert_args(b.prefix, [new(), new()], ())
    args[2] = 3
    with pytest.raises(redis.exceptions.ResponseError, match="malformed"):
        b._call_insert(args)
    assert _snapshot(b) == before


def test_an_id_sent_twice_or_sent_again_is_stored_once(backend: RedisBackend) -> None:
    """The same id twice in a batch is one task; a batch sent again (as after a connection
    dropped before the reply) changes nothing."""
    b = backend
    task, other = new(), new()
    refs = b.tasks_insert([task, task, other])
    assert refs == [TaskRef(task.id, True), TaskRef(task.id, True), TaskRef(other.id, True)]
    assert b.tasks_count(TaskFilter()) == 2
    assert_counts_exact(b)
    [claimed] = claim(b, limit=1)
    assert b.tasks_finish([Outcome(claimed.lease, OutcomeKind.SUCCEEDED)]) == [True]
    before = _snapshot(b)
    assert b.tasks_insert([task, task, other]) == refs
    assert _snapshot(b) == before
    assert b.tasks_get(claimed.id).state == State.SUCCEEDED  # type: ignore[union-attr]


@pytest.mark.parametrize("chunk", [4, inserts.INSERT_CHUNK])
def test_unique_keys_within_a_batch_and_across_its_calls(
    backend: RedisBackend, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    b = backend
    [held] = b.tasks_insert([new(unique_key="k0")])
    monkeypatch.setattr(inserts, "INSERT_CHUNK", chunk)
    batch = [new() for _ in range(5)] + [
        new(unique_key="k1"), new(unique_key="k1"), new(unique_key="k0"),
        new(unique_key="k2", delay=3600),
    ]
    refs = b.tasks_insert(batch)  # with chunk 4: calls of 4, 4 and 1 tasks
    assert refs == [TaskRef(t.id, True) for t in batch[:6]] + [
        TaskRef(batch[5].id, False), TaskRef(held.id, False), TaskRef(batch[8].id, True),
    ]
    assert b.tasks_count(TaskFilter()) == 8
    assert b.tasks_get(batch[8].id).state == State.SCHEDULED  # type: ignore[union-attr]
    assert_counts_exact(b)


def test_batches_keep_their_order_options_and_wake_ups(backend: RedisBackend) -> None:
    """Runs of tasks with the same options share one header; every task keeps its own."""
    b = backend
    listener = b.listener(["q1"])
    try:
        drain(listener)
        at = datetime.now(UTC) + timedelta(hours=1)
        batch = [new(queue="q1", priority=2), new(queue="q1", priority=2),
                 new(queue="q2", max_attempts=3, timeout=1.5), new(queue="q1", run_at=at),
                 new(queue="q1", priority=-3), new("other", "q1")]
        assert b.tasks_insert(batch) == [TaskRef(t.id, True) for t in batch]
        stored = {t.id: t for t in _all(b)}
        for task in batch:
            got = stored[task.id]
            assert (got.name, got.queue, got.priority, got.max_attempts, got.timeout,
                    got.payload) == (task.name, task.queue, task.priority, task.max_attempts,
                                     task.timeout, task.payload)
            assert got.attempts == 0 and got.unique_key is None
        assert stored[batch[3].id].state == State.SCHEDULED
        assert abs((stored[batch[3].id].run_at - at).total_seconds()) < 1e-5
        assert listener.wait(1.0)  # queued tasks in q1 wake its workers
        assert [t.id for t in claim(b, names=("job", "other"), queues=["q1"])] == [
            batch[0].id, batch[1].id, batch[5].id, batch[4].id]
        assert_counts_exact(b)
    finally:
        listener.close()


def test_inserts_from_threads_and_a_forked_child_use_connections_of_their_own(
    url: str,
) -> None:
    """Inserts keep connections out of the pool: one per thread at a time, never the
    parent's in a forked child, and close() closes them."""
    b = RedisBackend(url)
    try:
        b.tasks_insert([new()])
        errors: list[BaseException] = []

        def insert() -> None:
            try:
                for _ in range(30):
                    [ref] = b.tasks_insert([new()])
                    assert ref.created
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=insert) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        child = multiprocessing.get_context("fork").Process(target=insert)
        child.start()
        insert()  # the parent inserts at the same time, on its own kept connection
        child.join(60)
        assert child.exitcode == 0 and errors == []
        assert b.tasks_count(TaskFilter()) == 1 + 6 * 30 + 2 * 30
        assert_counts_exact(b)
    finally:
        b.close()
    wait_for(lambda: _clients(name_of(url)) == 0, 5, "close() to close every connection")


def _clients(name: str) -> int:
    client = admin()
    try:
        return sum(1 for c in client.client_list() if c.get("name") == name)
    finally:
        client.close()


# --------------------------------------------------------------------------- no KEYS


def test_the_backend_never_sends_keys_or_scan(url: str) -> None:
    """Run every operation as a Redis user that may not call KEYS or SCAN (ACL): any such
    call, from Python or from a script, would fail with NOPERM."""
    code = "\n".join(path.read_text() for path in sorted(PACKAGE.rglob("*"))
                     if path.suffix in (".py", ".lua"))
    assert "redis.call('ZRANGE'" in code  # the Lua scripts are read too
    assert not re.search(r"""['"](KEYS|SCAN)['"]""", code, re.IGNORECASE)
    assert ".keys(" not in code and "scan_iter" not in code
    user, password = f"tb-nokeys-{os.urandom(4).hex()}", os.urandom(8).hex()
    client = admin()
    client.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"],
                       channels=["*"], commands=["+@all", "-keys", "-scan"])
    parts = urlsplit(url)
    b = RedisBackend(parts._replace(netloc=f"{user}:{password}@{parts.netloc}").geturl())
    try:
        with pytest.raises(redis.exceptions.NoPermissionError):  # the ACL does bite
            b._client.keys("*")
        b.migrate()
        b.tasks_insert([new() for _ in range(20)] + [new("other", "q2", delay=3600)])
        b.tasks_list(ListParams(TaskFilter(states=[State.QUEUED])))
        b.tasks_list(ListParams(TaskFilter(finished_before=0)))
        b.tasks_count(TaskFilter(names=["job"]))
        b.tasks_count(TaskFilter(queues=["q2"], finished_before=0))
        b.tasks_stats()
        b.tasks_finish([Outcome(t.lease, OutcomeKind.FAILED) for t in claim(b, limit=5)])
        b.leases_extend(LeaseExtendParams([t.lease for t in claim(b, limit=2)], 30))
        maintain(b)
        assert b.leader_try(LeaderParams("maintenance", "acl", 5.0))
        b.leader_resign(LeaderParams("maintenance", "acl", 5.0))
        b.tasks_retry(TaskFilter(states=[State.FAILED]))
        b.tasks_cancel(CancelParams(TaskFilter(queues=["q2"]), "why"))
        b.tasks_prune(PruneParams(dict.fromkeys(FINAL_STATES, 0.0)))
        listener = b.listener(None)
        listener.wait(0.01)
        listener.close()
        assert b.tasks_delete(TaskFilter()) == 20
    finally:
        b.close()
        client.acl_deluser(user)
        client.close()


# --------------------------------------------------------------------------- concurrency


def test_claims_from_many_threads_never_hand_out_a_task_twice(url: str) -> None:
    total = 1500
    b1, b2 = RedisBackend(url), RedisBackend(url)
    try:
        b1.tasks_insert([new(priority=i % 5) for i in range(total)])
        claimed: list[str] = []
        lock = threading.Lock()
        errors: list[BaseException] = []

        def claimer(b: RedisBackend) -> None:
            try:
                while True:
                    got = claim(b, limit=7)
                    if not got:
                        return
                    with lock:
                        claimed.extend(t.id for t in got)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=claimer, args=(b,)) for b in (b1, b2) * 3]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors
        assert len(claimed) == total and len(set(claimed)) == total
        assert b1.tasks_count(TaskFilter(states=[State.RUNNING])) == total
    finally:
        b1.close()
        b2.close()


def test_claim_skips_unknown_names_and_orders_across_queues(backend: RedisBackend) -> None:
    b = backend
    b.tasks_insert([new("unknown", priority=100) for _ in range(300)])
    low = b.tasks_insert([new(queue="a", priority=1)])[0].id
    high = b.tasks_insert([new(queue="b", priority=5)])[0].id
    first = b.tasks_insert([new(queue="c", priority=1)])[0].id
    early = datetime.now(UTC) - timedelta(hours=1)
    earliest = b.tasks_insert([new(queue="c", priority=1, run_at=early)])[0].id
    got = claim(b, limit=10)
    assert [t.id for t in got] == [high, earliest, low, first]
    assert b.tasks_count(TaskFilter(names=["unknown"], states=[State.QUEUED])) == 300


def test_a_lease_extension_is_fenced(backend: RedisBackend) -> None:
    b = backend
    b.tasks_insert([new()])
    [task] = claim(b, lease=0.05)
    wait_for(lambda: task.id in {t.id for t in maintain(b).requeued}, 5, "the rescue")
    [again] = claim(b)
    held = b.leases_extend(LeaseExtendParams([task.lease, again.lease], 30))
    assert held == {again.id}
    assert b.tasks_finish([Outcome(task.lease, OutcomeKind.SUCCEEDED)]) == [False]
    assert b.tasks_finish([Outcome(again.lease, OutcomeKind.SUCCEEDED)]) == [True]


# --------------------------------------------------------------------------- listener


def test_listener_wakes_on_enqueue_and_returns_on_close(
    backend: RedisBackend, url: str
) -> None:
    b = backend
    for queues in (["default"], None):
        listener = b.listener(queues)
        drain(listener)
        woke: list[bool] = []
        thread = threading.Thread(
            target=lambda listener=listener, woke=woke: woke.append(listener.wait(30)))
        thread.start()
        wait_until_blocked(name_of(url))
        b.tasks_insert([new()])
        thread.join(30)
        assert woke == [True]  # woken by the insert, not by the 30 s timeout
        listener.close()
        claim(b)
    # another queue's tasks do not wake a listener of "default"
    listener = b.listener(["default"])
    drain(listener)
    b.tasks_insert([new(queue="elsewhere")])
    client = admin()  # the wake-up goes to that queue's list (and the all-queues one) only
    try:
        assert client.llen(f"{b.prefix}:wake:elsewhere") >= 1
        assert client.llen(f"{b.prefix}:wake:default") == 0
    finally:
        client.close()
    assert listener.wait(0) is False
    # close makes a waiting listener return at once
    thread = threading.Thread(target=listener.wait, args=(30,))
    thread.start()
    wait_until_blocked(name_of(url))
    listener.close()
    thread.join(10)
    assert not thread.is_alive()  # it returned long before its 30 s timeout


def test_listener_blocks_longer_than_a_short_socket_timeout(url: str) -> None:
    b = RedisBackend(f"{url}&socket_timeout=0.2")
    try:
        listener = b.listener(["default"])
        drain(listener)
        timer = threading.Timer(0.5, lambda: b.tasks_insert([new()]))
        timer.start()
        start = time.monotonic()
        assert listener.wait(5) is True  # not broken by the 0.2 s read timeout
        assert time.monotonic() - start > 0.3  # woken by the insert, not ended by the timeout
        timer.join()
        listener.close()
    finally:
        b.close()


def test_basket_worker_picks_up_promptly(url: str) -> None:
    basket = Basket(url)
    done = threading.Event()

    @basket.task
    def ping() -> None:
        done.set()

    worker = basket.worker(concurrency=2, poll_interval=120, visibility_timeout=30)
    worker.start()
    try:
        wait_until_blocked(name_of(url))  # the worker is idle, blocked on its listener
        ping.enqueue()
        assert done.wait(60)  # woken: its next poll is two minutes away
    finally:
        worker.stop()
        basket.close()


# --------------------------------------------------------------------------- resilience


def _kill_clients(name: str) -> int:
    client = admin()
    killed = 0
    for info in client.client_list():
        if info.get("name") == name:
            killed += client.client_kill_filter(_id=info["id"])
    client.close()
    return killed


def test_client_kill_then_the_next_operations_recover(url: str) -> None:
    name = name_of(url)
    b = RedisBackend(url)
    try:
        b.tasks_insert([new() for _ in range(3)])
        listener = b.listener(None)
        drain(listener)
        result: list[bool] = []
        thread = threading.Thread(target=lambda: result.append(listener.wait(3)))
        thread.start()
        wait_until_blocked(name_of(url))
        assert _kill_clients(name) >= 2  # the pool's connection and the listener's
        # the pool's connection died idle: the next call retries on a new connection
        assert len(claim(b, limit=2)) == 2
        b.tasks_insert([new()])
        assert b.tasks_count(TaskFilter(states=[State.QUEUED])) == 2
        thread.join(5)
        assert result  # the listener survived the kill (woken, or timed out quietly)
        drain(listener)
        b.tasks_insert([new()])
        assert listener.wait(30) is True  # and it is woken again on a connection of its own
        listener.close()
    finally:
        b.close()
