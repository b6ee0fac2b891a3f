"""Hostile input: text a handler writes can never stall a worker (issue #14, F1).

An error text holding a NUL (PostgreSQL refuses it) or a lone surrogate (no store can
encode it) is stored visibly escaped; an outcome the store still refuses is recorded with
a placeholder error, or dropped, and the completer goes on recording the others.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from taskbasket import Basket, Fail, Retry, State, current_task
from taskbasket.backends.base import ClaimParams, Outcome, OutcomeKind, TaskFilter
from taskbasket.storable import storable_text
from taskbasket.worker.job import UNSTORABLE_ERROR, Job
from taskbasket.worker.worker import Worker
from tests.helpers import Effects, wait_for

pytestmark = pytest.mark.needs("task_records")  # the stored error text is read back

NUL_EMAIL = "x\u0000@example.com"  # as JSON "x\u0000@example.com" arrives
FILE_NAME = os.fsdecode(b"caf\xe9.txt")  # an undecodable file name: 'caf\udce9.txt'
SURROGATE = json.loads('"\\ud800"')  # JSON can carry a lone surrogate


def test_storable_text_escapes_visibly_and_keeps_the_rest() -> None:
    assert storable_text("a\x00b") == "a\\x00b"
    assert storable_text(FILE_NAME) == "caf\\udce9.txt"
    assert storable_text(SURROGATE + "\ud83d\ude00") == "\\ud800\\ud83d\\ude00"
    kept = "tab\t, newline\n, é, 😀, \uffff, \U0010ffff, \x1b[2J and a \\ backslash"
    assert storable_text(kept) is kept


def test_hostile_error_texts_are_stored_escaped_and_others_succeed_once(
    basket: Basket, tmp_path: Path
) -> None:
    effects = Effects(tmp_path / "effects.db")
    received: list[str] = []

    @basket.task(max_attempts=1, priority=10)
    def check_email(email: str) -> None:
        received.append(email)
        raise ValueError(f"invalid e-mail address: {email}")

    @basket.task(max_attempts=3, backoff=3600, priority=10)
    def read_file(name: str) -> None:
        raise FileNotFoundError(f"no such file: {name}{FILE_NAME}")

    @basket.task(max_attempts=3, priority=10)
    async def rate_limited() -> None:
        await asyncio.sleep(0)
        raise Retry(f"limited for {SURROGATE}", delay=3600)

    @basket.task(max_attempts=3, priority=10)
    def refuse() -> None:
        raise Fail("bad input: \x00" + SURROGATE)

    @basket.task
    def unrelated(n: int) -> None:
        ctx = current_task()
        assert ctx is not None
        effects.record(ctx.id, ctx.attempt, "ran")

    hostile = [check_email.enqueue(NUL_EMAIL).id, read_file.enqueue("data/").id,
               rate_limited.enqueue().id, refuse.enqueue().id]
    first = [ref.id for ref in unrelated.enqueue_many([(n,) for n in range(6)])]

    def all_done(ids: list[str]) -> bool:
        return basket.backend.tasks_count(TaskFilter(ids=ids, states=[State.SUCCEEDED])) == len(
            ids)

    worker = basket.worker(concurrency=4, visibility_timeout=5, poll_interval=0.05)
    worker.start()
    try:
        wait_for(lambda: all_done(first) and basket.backend.tasks_count(
            TaskFilter(ids=hostile, states=[State.FAILED, State.RETRYING])) == 4,
            20, "hostile outcomes and the tasks after them to be recorded")
        # the worker keeps recording
        later = [ref.id for ref in unrelated.enqueue_many([(n,) for n in range(6, 9)])]
        wait_for(lambda: all_done(later), 20, "tasks enqueued afterwards to succeed")
    finally:
        worker.stop()

    assert received == [NUL_EMAIL]  # the argument arrived exactly as sent
    email, file_task, limited, refused = (basket.get(i) for i in hostile)
    assert email is not None and email.state == State.FAILED
    assert email.args == [NUL_EMAIL]
    assert "ValueError: invalid e-mail address: x\\x00@example.com" in (email.last_error or "")
    assert file_task is not None and file_task.state == State.RETRYING
    assert "FileNotFoundError: no such file: data/caf\\udce9.txt" in (file_task.last_error or "")
    assert limited is not None and limited.state == State.RETRYING
    assert limited.last_error == "Retry: limited for \\ud800"
    assert refused is not None and refused.state == State.FAILED
    assert refused.last_error == "Fail: bad input: \\x00\\ud800"
    for task_id in first + later:
        assert len(effects.events(task_id, "ran")) == 1, "ran more or less than once"
    assert worker.stats["succeeded"] == 9 and worker.stats["unstored"] == 0


def test_hostile_arguments_round_trip(basket: Basket) -> None:
    @basket.task
    def store(*args: object, **kwargs: object) -> None: ...

    args = [NUL_EMAIL, {"k\u0000ey": ["\u0000", "é\u0000😀"]}, "\\u0000 \\ud800"]
    ref = store.enqueue(*args, note="\u0000")
    task = basket.get(ref.id)
    assert task is not None and task.args == args and task.kwargs == {"note": "\u0000"}
    with pytest.raises(TypeError, match="lone surrogate"):
        store.enqueue(SURROGATE)  # refused at once, never stored


def _run_completer(worker: Worker) -> int:
    """One ``complete_once``; fails (instead of hanging) if it retries without end."""
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(worker.complete_once(block=False)))
    thread.start()
    thread.join(30)
    if thread.is_alive():
        worker._closing.set()  # releases a completer that retries for ever
        worker._stopping.set()
        thread.join(10)
        pytest.fail("the completer kept retrying a batch the store refuses")
    return done[0]


def test_completer_records_a_refused_outcome_alone_with_a_placeholder(basket: Basket) -> None:
    @basket.task(max_attempts=5)
    def job(n: int) -> None: ...

    refs = job.enqueue_many([(n,) for n in range(4)])
    worker = basket.worker(concurrency=4, visibility_timeout=30)
    claimed = {t.id: t for t in basket.backend.tasks_claim(ClaimParams(
        worker_id=worker.worker_id, names=["job"], limit=4, lease_seconds=30))}
    a, b, c, d = (claimed[ref.id] for ref in refs)
    outcomes = [
        Outcome(a.lease, OutcomeKind.SUCCEEDED),
        # built past error_outcome, so nothing escaped it: no store can keep this text
        Outcome(b.lease, OutcomeKind.RETRY, error=f"Traceback\nbad {SURROGATE}\x00",
                retry_delay=3600),
        Outcome(c.lease, OutcomeKind.FAILED, error="plain"),
        # refused whatever its error text: no store can schedule a retry NaN seconds away
        Outcome(d.lease, OutcomeKind.RETRY, error=SURROGATE, retry_delay=math.nan),
    ]
    for task, outcome in zip((a, b, c, d), outcomes, strict=True):
        worker._record(Job(task, basket.registry["job"]), outcome)

    assert _run_completer(worker) == 4
    ta, tb, tc, td = (basket.get(ref.id) for ref in refs)
    assert ta is not None and ta.state == State.SUCCEEDED
    assert tb is not None and tb.state == State.RETRYING
    assert (tb.last_error or "").startswith(f"{UNSTORABLE_ERROR}: ")
    assert "[its last line, escaped: 'bad \\ud800\\x00']" in (tb.last_error or "")
    assert tc is not None and tc.state == State.FAILED and tc.last_error == "plain"
    assert td is not None and td.state == State.RUNNING  # dropped: its lease will expire
    stats = worker.stats
    assert (stats["succeeded"], stats["retried"], stats["failed"]) == (1, 1, 1)
    assert (stats["unstored"], stats["lost_leases"]) == (1, 0)
    assert worker.in_flight == 0


def _unreachable(url: str) -> str:
    """The URL of the same store on a port (or in a folder) where nothing answers."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return "sqlite:////nonexistent-taskbasket-folder/tasks.db"
    userinfo, at, host_port = parts.netloc.rpartition("@")
    host = host_port.rsplit(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}:1"))


def test_backend_tells_a_refusal_from_an_outage(basket: Basket) -> None:
    @basket.task
    def job() -> None: ...

    job.enqueue()
    [task] = basket.backend.tasks_claim(ClaimParams("w", None, 1, 30))
    with pytest.raises(Exception) as refused:
        basket.backend.tasks_finish([Outcome(task.lease, OutcomeKind.FAILED, error=SURROGATE)])
    assert not basket.backend.is_transient(refused.value)


# a store kept in this process (memory://) cannot be out of reach; the others, a file or
# a server, can
@pytest.mark.needs("shared_between_processes")
def test_backend_tells_an_outage_from_a_refusal(store_url: str) -> None:
    down = Basket(_unreachable(store_url))
    try:
        with pytest.raises(Exception) as outage:
            down.backend.tasks_count(TaskFilter())
    finally:
        down.close()
    assert down.backend.is_transient(outage.value), repr(outage.value)
