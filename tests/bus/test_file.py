"""The line transports (``file://``, ``stdin://``) with real worker processes and pipes.

Worker processes run ``tests.bus:app`` (or ``tests.apps.crashapp:basket``) and log what
their handlers did to ``$TB_EFFECTS``. Every wait has a deadline; nothing sleeps and hopes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from taskbasket import Basket
from taskbasket.backends.base import ClaimParams, Outcome, OutcomeKind
from taskbasket.backends.file import FileBackend, StreamBackend, parse_line
from taskbasket.codec import encode_arguments
from taskbasket.errors import ConfigurationError, UnsupportedOperationError
from tests.bus import app
from tests.helpers import PYTHONPATH, Effects, wait_for

CRASH = "tests.apps.crashapp:basket"


class Proc:
    """A real ``taskbasket`` process (a worker unless ``command`` says otherwise)."""

    def __init__(self, url: str, effects: Effects, *args: str, app_name: str = "tests.bus:app",
                 stdin: int | IO[Any] | None = subprocess.DEVNULL, command: str = "worker"):
        self.log_path = effects.path.parent / f"{command}-{os.urandom(3).hex()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        argv = [app_name, "--url", url] if command == "worker" else ["--url", url]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "taskbasket", command, *argv, *args], cwd=effects.path.parent,
            stdin=stdin, stdout=self._log, stderr=subprocess.STDOUT,
            env=dict(os.environ, TB_EFFECTS=str(effects.path), PYTHONPATH=PYTHONPATH,
                     PYTHONUNBUFFERED="1"))

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def exit_code(self, timeout: float = 30.0) -> int:
        """Wait for the process to end by itself (failing after ``timeout``)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"still running after {timeout}s:\n{self.log()}") from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


@pytest.fixture
def effects(tmp_path: Path) -> Effects:
    return Effects(tmp_path / "effects.db")


@pytest.fixture
def spawn(effects: Effects) -> Iterator[Callable[..., Proc]]:
    procs: list[Proc] = []

    def start(url: str, *args: str, **options: Any) -> Proc:
        procs.append(Proc(url, effects, *args, **options))
        return procs[-1]

    yield start
    for proc in procs:
        proc.stop()


@pytest.fixture
def tasks(tmp_path: Path) -> Path:
    return tmp_path / "tasks.jsonl"


def producer(url: str) -> Basket:
    """A basket on ``url`` that knows the options of ``tests.bus:app``'s tasks."""
    basket = Basket(url)
    for d in app.registry.values():
        basket.task(name=d.name, max_attempts=d.max_attempts, backoff=d.backoff)(d.func)
    return basket


def ledger(path: Path) -> dict[str, Any]:
    """What ``<path>.offset`` records (its first line)."""
    data: dict[str, Any] = json.loads(Path(f"{path}.offset").read_text().splitlines()[0])
    return data


def ends(path: Path) -> list[int]:
    """The byte offset where each line of ``path`` ends."""
    offsets, total = [], 0
    for line in path.read_bytes().splitlines(keepends=True):
        total += len(line)
        offsets.append(total)
    return offsets


def dead_letters(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def lines(*tasks: dict[str, Any] | str) -> bytes:
    return b"".join((t if isinstance(t, str) else json.dumps(t)).encode() + b"\n"
                    for t in tasks)


def claim(backend: FileBackend | StreamBackend, limit: int) -> list[Any]:
    return backend.tasks_claim(ClaimParams("w", None, limit, 30.0))


# --------------------------------------------------------------------------- end to end


def test_a_file_worker_drains_the_file_and_exits_0_by_itself(
    tasks: Path, effects: Effects, spawn: Callable[..., Proc],
) -> None:
    url = f"file://{tasks}"
    basket = producer(url)
    refs = [basket.enqueue("stamp"), *basket.enqueue_many("flaky", [(0,), (1,)])]
    cli = spawn(url, "stamp", command="enqueue")
    assert cli.exit_code() == 0
    refs.append(basket.enqueue("stamp"))
    ids = [r.id for r in refs] + [cli.log().strip()]
    assert spawn(url).exit_code() == 0
    assert sorted(row[0] for row in effects.events(event="done")) == sorted(ids)
    assert ledger(tasks) == {"read": tasks.stat().st_size, "inode": tasks.stat().st_ino,
                             "pending": {}}
    assert not Path(f"{tasks}.dead").exists()
    # a second worker finds nothing left to do: it resumes at the end
    assert spawn(url).exit_code() == 0
    assert len(effects.events(event="done")) == 5


def test_a_shell_pipeline_from_enqueue_to_a_stdin_worker(
    tmp_path: Path, effects: Effects,
) -> None:
    tb = f"{sys.executable} -m taskbasket"
    dead = tmp_path / "dead.jsonl"
    script = (f"{{ {tb} enqueue --url stdout:// stamp && "
              f"{tb} enqueue --url stdout:// flaky --args '[1]'; }} 2>ids.txt | "
              f"{tb} worker tests.bus:app --url 'stdin://?dead={dead}' 2>worker.log")
    run = subprocess.run(script, shell=True, cwd=tmp_path, timeout=60, env=dict(
        os.environ, TB_EFFECTS=str(effects.path), PYTHONPATH=PYTHONPATH))
    assert run.returncode == 0, (tmp_path / "worker.log").read_text()
    ids = (tmp_path / "ids.txt").read_text().split()
    assert len(ids) == 2
    assert sorted(row[0] for row in effects.events(event="done")) == sorted(ids)
    assert [row[1] for row in effects.events(ids[1], "start")] == [1, 2]  # a retry
    assert not dead.exists()


def test_short_lines_get_an_id_a_queue_and_defaults(
    tmp_path: Path, effects: Effects, spawn: Callable[..., Proc],
) -> None:
    message = parse_line(b'{"name": "send", "args": [1], "kwargs": {"to": "x"}}', 100.0)
    assert (message.queue, message.priority, message.max_attempts, message.attempts) == (
        "default", 0, 10, 0)
    assert message.payload == encode_arguments("send", [1], {"to": "x"})
    assert (message.run_at, message.created_at, len(message.id)) == (100.0, 100.0, 36)
    fed_back = parse_line(message.but(attempts=3, failed_at=5.0, last_error="e").encode(), 9.0)
    assert (fed_back.attempts, fed_back.failed_at, fed_back.run_at) == (0, None, 9.0)

    worker = spawn(f"stdin://?dead={tmp_path / 'dead.jsonl'}", stdin=subprocess.PIPE)
    assert worker.proc.stdin is not None
    worker.proc.stdin.write(lines(
        {"name": "stamp"}, {"name": "flaky", "args": [0]},
        {"name": "flaky", "kwargs": {"failures": 0}, "id": "my-id"},
        {"name": "stamp", "queue": "other", "priority": 3, "max_attempts": 1}, ""))
    worker.proc.stdin.close()  # EOF: the worker ends once these ran
    assert worker.exit_code() == 0
    done = effects.events(event="done")
    assert len(done) == 4 and "my-id" in {row[0] for row in done}
    assert not (tmp_path / "dead.jsonl").exists()


def test_lines_that_are_not_tasks_go_to_the_dead_letter_file_with_their_error(
    tmp_path: Path, effects: Effects, spawn: Callable[..., Proc],
) -> None:
    dead = tmp_path / "dead.jsonl"
    url = f"stdin://?dead={dead}"
    bad = ["not json", "[1, 2]", '{"name": "stamp", "bogus": 1}', '{"args": []}',
           '{"name": "stamp", "max_attempts": 0}', '{"name": "stamp", "args": {}}',
           '{"name": "no_such_task"}', '{"name": "stamp", "queue": "other"}']
    worker = spawn(url, "--queues", "default", stdin=subprocess.PIPE)
    assert worker.proc.stdin is not None
    worker.proc.stdin.write(lines(*bad, {"name": "stamp", "id": "good"}))
    worker.proc.stdin.close()
    assert worker.exit_code() == 0, worker.log()
    assert [row[0] for row in effects.events(event="done")] == ["good"]
    letters = dead_letters(dead)
    assert [d["payload"] for d in letters[:6]] == bad[:6]  # kept as written, in order
    errors = [d["last_error"] for d in letters]
    expected = ["line 1 of standard input: not a task: Expecting value", "a JSON list",
                "unknown field(s) bogus", "task name must be a non-empty str",
                "max_attempts must be an int >= 1", "args must be a JSON array",
                "no handler for task 'no_such_task'", "queue 'other' is not among"]
    for error, words in zip(errors, expected, strict=True):
        assert words in error, error
    assert all(d["failed_at"] for d in letters)
    assert worker.log().count("dead letter") == 8
    inspector = Basket(url)
    assert inspector.count(state="failed") == 8
    assert len(inspector.list(state="failed", name="(not a task)")) == 6
    assert [t.name for t in inspector.list(state="failed", queue="other")] == ["stamp"]


def test_a_failing_task_ends_dead_after_its_retries_then_retry_appends_it(
    tasks: Path, tmp_path: Path, effects: Effects, spawn: Callable[..., Proc],
) -> None:
    url = f"file://{tasks}"
    basket = producer(url)
    marker = tmp_path / "marker"
    ref = basket.enqueue("needs_marker", args=[str(marker)])  # max_attempts=2
    assert spawn(url).exit_code() == 0
    [letter] = dead_letters(Path(f"{tasks}.dead"))
    assert (letter["id"], letter["attempts"], letter["max_attempts"]) == (ref.id, 2, 2)
    assert "no marker" in letter["last_error"]
    assert "gave up after attempt 2 of 2" in letter["last_error"]
    assert [row[1] for row in effects.events(ref.id, "start")] == [1, 2]
    [failed] = basket.list(state="failed")
    assert failed.id == ref.id and failed.attempts == 2 and failed.args == [str(marker)]
    listed = spawn(url, "--state", "failed", "--json", command="ls")
    assert listed.exit_code() == 0
    assert [t["id"] for t in json.loads(listed.log())] == [ref.id]
    marker.touch()
    assert basket.retry(ref.id) == 1  # appended to the task file, attempts from zero
    assert basket.list(state="failed") == []
    assert spawn(url).exit_code() == 0
    assert effects.events(ref.id, "done")[0][1] == 1


def test_dead_letters_fed_back_to_a_stdin_worker_run_again(
    tmp_path: Path, effects: Effects, spawn: Callable[..., Proc],
) -> None:
    dead, marker = tmp_path / "dead.jsonl", tmp_path / "marker"
    url = f"stdin://?dead={dead}"
    line = lines({"name": "needs_marker", "args": [str(marker)], "id": "t1", "max_attempts": 2})
    (tmp_path / "in.jsonl").write_bytes(line)
    with open(tmp_path / "in.jsonl", "rb") as given:
        assert spawn(url, stdin=given).exit_code() == 0
    [letter] = dead_letters(dead)
    assert (letter["id"], letter["attempts"]) == ("t1", 2)
    with open(dead, "rb") as itself:  # its own dead letters would come back forever
        refused = spawn(url, stdin=itself)
        assert refused.exit_code() == 2
    assert "standard input is the dead-letter file" in refused.log()
    marker.touch()
    dead.rename(tmp_path / "retry.jsonl")
    with open(tmp_path / "retry.jsonl", "rb") as given:
        assert spawn(url, stdin=given).exit_code() == 0
    assert effects.events("t1", "done")[0][1] == 1  # attempts started again
    assert not dead.exists()


def test_a_follow_worker_tails_the_file_until_stopped(
    tasks: Path, effects: Effects, spawn: Callable[..., Proc],
) -> None:
    url = f"file://{tasks}?follow=1"
    worker = spawn(url)  # the file does not exist yet: it is created and followed
    basket = producer(url)
    for _ in range(2):
        ref = basket.enqueue("stamp")
        wait_for(lambda ref=ref: effects.events(ref.id, "done"), 15, "the appended task")
    assert worker.proc.poll() is None  # at the end of the file, still waiting
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.exit_code() == 0


def test_concurrent_producers_never_interleave_lines(tasks: Path) -> None:
    code = ("import sys; from taskbasket import Basket; b = Basket(sys.argv[1]); "
            "[b.enqueue_many('job', [(sys.argv[2] * 8000, i) for i in range(25)]) "
            "for _ in range(4)]")
    procs = [subprocess.Popen([sys.executable, "-c", code, f"file://{tasks}", tag])
             for tag in "abcdef"]
    assert [p.wait(60) for p in procs] == [0] * 6
    messages = [json.loads(line) for line in tasks.read_bytes().splitlines()]
    assert len(messages) == 6 * 4 * 25 == len({m["id"] for m in messages})
    for m in messages:  # every line whole: one producer's argument, unbroken
        [text, _] = json.loads(m["payload"])["args"]
        assert text == text[0] * 8000


# --------------------------------------------------------------------------- laziness, stops


def test_a_worker_reads_one_line_per_free_slot(tasks: Path, tmp_path: Path) -> None:
    producer(f"file://{tasks}").enqueue_many("stamp", [()] * 5)
    end = ends(tasks)
    backend = FileBackend(f"file://{tasks}")
    try:
        assert backend.position == 0
        first = claim(backend, 2)
        assert len(first) == 2 and backend.position == end[1]
        assert ledger(tasks)["read"] == end[1] and len(ledger(tasks)["pending"]) == 2
        assert claim(backend, 0) == [] and backend.position == end[1]
        assert backend.tasks_finish([Outcome(first[0].lease, OutcomeKind.SUCCEEDED)]) == [True]
        assert len(claim(backend, 1)) == 1 and backend.position == end[2]
        assert ledger(tasks)["pending"].keys() == {str(end[0]), str(end[1])}
    finally:
        backend.close()
    read, write = os.pipe()
    stream = StreamBackend(f"stdin://?dead={tmp_path / 'dead.jsonl'}", input_fd=read)
    os.write(write, lines(*[{"name": "stamp"}] * 5))
    assert len(claim(stream, 2)) == 2 and stream.position == 2  # lines taken as tasks
    assert len(claim(stream, 1)) == 1 and stream.position == 3
    os.close(write)
    os.close(read)


def test_created_order_takes_due_retries_by_their_lines(tasks: Path) -> None:
    """In created order the earliest line goes first, whatever its priority or when its
    retry came due; in priority order (the default) due retries go by their run_at."""
    from datetime import UTC, datetime, timedelta

    from taskbasket.backends.base import ClaimOrder

    producer(f"file://{tasks}").enqueue_many("stamp", [()] * 3)
    for order, expected in ((ClaimOrder.CREATED, [0, 1, 2]), (ClaimOrder.PRIORITY, [2, 1, 0])):
        backend = FileBackend(f"file://{tasks}")
        try:
            taken = backend.tasks_claim(ClaimParams("w", None, 3, 30.0, order=order))
            past = datetime.now(UTC) - timedelta(minutes=1)
            assert backend.tasks_finish([  # the last line's retry comes due first
                Outcome(task.lease, OutcomeKind.RETRY, "again",
                        retry_at=past - timedelta(seconds=index))
                for index, task in enumerate(taken)
            ]) == [True] * 3
            again = backend.tasks_claim(ClaimParams("w", None, 2, 30.0, order=order))
            again += backend.tasks_claim(ClaimParams("w", None, 2, 30.0, order=order))
            assert [t.id for t in again] == [taken[i].id for i in expected]
        finally:
            backend.close()
        tasks.with_name(tasks.name + ".offset").unlink(missing_ok=True)


def test_a_delayed_task_waits_in_memory_and_runs_when_due(tasks: Path) -> None:
    basket = Basket(f"file://{tasks}")
    ref = basket.enqueue("stamp", delay=0.3)
    enqueued = time.monotonic()
    backend = basket.backend
    assert isinstance(backend, FileBackend)
    assert claim(backend, 1) == []  # read, and waiting for its run_at
    assert ledger(tasks)["pending"] == {"0": [0, ref.id]}
    [task] = wait_for(lambda: claim(backend, 1), 5, "the delayed task", interval=0.01)
    assert task.id == ref.id and time.monotonic() - enqueued >= 0.3 - 0.01
    basket.close()


def test_a_graceful_stop_leaves_unstarted_lines_to_the_next_worker(
    tasks: Path, effects: Effects, spawn: Callable[..., Proc],
) -> None:
    url = f"file://{tasks}"
    refs = Basket(url).enqueue_many("slow", [(1.0,)] * 5, max_attempts=3)
    end = ends(tasks)
    worker = spawn(url, "--concurrency", "2", app_name=CRASH)
    wait_for(lambda: len(effects.events(event="start")) == 2, 20, "two tasks to start")
    assert ledger(tasks)["read"] == end[1]  # two free slots: two lines read, no more
    assert len(ledger(tasks)["pending"]) == 2
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.exit_code() == 0
    assert len(effects.events(event="done")) == 2  # finished within the grace period
    assert ledger(tasks) == {"read": end[1], "inode": tasks.stat().st_ino, "pending": {}}
    assert spawn(url, "--concurrency", "3", app_name=CRASH).exit_code() == 0
    assert sorted(row[0] for row in effects.events(event="done")) == sorted(r.id for r in refs)


def test_a_graceful_stop_of_a_stdin_worker_writes_what_it_read_to_the_dead_file(
    tmp_path: Path, effects: Effects, spawn: Callable[..., Proc],
) -> None:
    dead = tmp_path / "dead.jsonl"
    worker = spawn(f"stdin://?dead={dead}", "--concurrency", "1", app_name=CRASH,
                   stdin=subprocess.PIPE)
    assert worker.proc.stdin is not None
    worker.proc.stdin.write(lines(*[{"name": "slow", "args": [1.0], "id": f"t{n}"}
                                    for n in range(4)]))
    worker.proc.stdin.flush()  # and stdin stays open: no EOF
    wait_for(lambda: effects.events(event="start"), 20, "the first task to start")
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.exit_code() == 0
    assert [row[0] for row in effects.events(event="done")] == ["t0"]
    letters = dead_letters(dead)
    assert [d["id"] for d in letters] == ["t1", "t2", "t3"]
    assert all("not finished: the worker stopped before attempt 1" in d["last_error"]
               for d in letters)
    worker.proc.stdin.close()


def test_the_seed_consumer_cases(tasks: Path, tmp_path: Path) -> None:
    # stop before any read: nothing opened, nothing written, done at once
    backend = FileBackend(f"file://{tasks}")
    backend.stop()
    backend.stop()  # twice
    assert backend.finished() and claim(backend, 5) == []
    assert not list(tmp_path.iterdir())
    # stop while holding a task: done once it is recorded; claims after stop take nothing
    producer(f"file://{tasks}").enqueue_many("stamp", [()] * 3)
    backend = FileBackend(f"file://{tasks}")
    listener = backend.listener(None)
    [held] = claim(backend, 1)
    listener.close()  # what a worker does as it stops
    assert not backend.finished()
    assert backend.tasks_finish([Outcome(held.lease, OutcomeKind.SUCCEEDED)]) == [True]
    assert backend.finished() and claim(backend, 5) == []
    woke: list[bool] = []
    waiting = threading.Thread(target=lambda: woke.append(listener.wait(60.0)))
    waiting.start()
    waiting.join(10)  # a closed listener returns at once, long before its 60 s timeout
    assert woke == [False]
    backend.close()
    assert ledger(tasks)["read"] == ends(tasks)[0]  # the other two stay for the next worker
    # stdin: stop never blocks, even with a listener waiting for input that never comes
    read, write = os.pipe()
    stream = StreamBackend(f"stdin://?dead={tmp_path / 'dead.jsonl'}", input_fd=read)
    stdin_listener = stream.listener(None)
    woke = []
    thread = threading.Thread(target=lambda: woke.append(stdin_listener.wait(60.0)))
    thread.start()
    closing = threading.Thread(target=stdin_listener.close)
    closing.start()
    closing.join(10)  # close waits for nothing: not for input that never comes
    assert not closing.is_alive()
    thread.join(10)  # and the waiting listener returns long before its 60 s timeout
    assert woke == [False]
    assert stream.finished() and claim(stream, 1) == []
    os.close(write)
    os.close(read)


def test_a_stopped_stdin_backend_writes_unfinished_tasks_as_dead_letters(tmp_path: Path) -> None:
    dead = tmp_path / "dead.jsonl"
    read, write = os.pipe()
    stream = StreamBackend(f"stdin://?dead={dead}", input_fd=read)
    os.write(write, lines(*[{"name": "stamp", "id": f"t{n}"} for n in range(4)]) + b'{"na')
    first, second = claim(stream, 2)
    stream.tasks_finish([Outcome(first.lease, OutcomeKind.RETRY, error="once", retry_delay=60)])
    stream.stop()  # the retry and the two lines read, not taken, go to the dead letters
    assert stream.tasks_finish([Outcome(second.lease, OutcomeKind.RELEASED)]) == [True]
    letters = dead_letters(dead)
    assert [d["id"] for d in letters[:3]] == ["t0", "t2", "t3"]
    assert "before attempt 2 of 10" in letters[0]["last_error"]
    assert "last error: once" in letters[0]["last_error"]
    assert "not a task" in letters[3]["last_error"] and letters[3]["payload"] == '{"na'
    assert letters[4]["id"] == "t1" and "before attempt 1" in letters[4]["last_error"]
    assert stream.finished()
    os.close(write)
    os.close(read)


# --------------------------------------------------------------------------- crashes


@pytest.mark.slow
def test_a_sigkilled_file_worker_is_resumed_from_the_offset_file(
    tasks: Path, effects: Effects, spawn: Callable[..., Proc],
) -> None:
    url = f"file://{tasks}"
    basket = Basket(url)
    slow = basket.enqueue("slow", args=[2.0], max_attempts=3, timeout=120)
    quick = basket.enqueue_many("quick", [("b",), ("c",)], max_attempts=3)
    victim = spawn(url, "--concurrency", "2", app_name=CRASH)
    # The slow task's "start" row may land after the quick tasks' rows: wait for both.
    wait_for(lambda: len(effects.events(event="done")) == 2
             and bool(effects.events(slow.id, "start")), 20, "the quick tasks, slow started")
    # The ledger is written after a handler returns: wait until only the running one is left.
    wait_for(lambda: ledger(tasks)["pending"] == {"0": [1, slow.id]}, 20, "the ledger")
    assert not effects.events(slow.id, "done")
    victim.proc.kill()
    assert victim.exit_code() == -signal.SIGKILL
    assert spawn(url, "--concurrency", "2", app_name=CRASH).exit_code() == 0
    assert [row[1] for row in effects.events(slow.id, "done")] == [2]  # lost attempt counted
    for ref in quick:  # finished after the oldest unfinished line: not run again
        assert len(effects.events(ref.id, "done")) == 1
    assert ledger(tasks)["pending"] == {}


@pytest.mark.slow
def test_a_task_that_keeps_killing_its_file_workers_ends_dead(
    tasks: Path, effects: Effects, spawn: Callable[..., Proc],
) -> None:
    url = f"file://{tasks}"
    ref = Basket(url).enqueue("kill_worker", max_attempts=3)
    codes = [spawn(url, app_name=CRASH).exit_code() for _ in range(4)]
    assert codes == [-signal.SIGKILL] * 3 + [0]
    assert [row[1] for row in effects.events(ref.id, "start")] == [1, 2, 3]
    [letter] = dead_letters(Path(f"{tasks}.dead"))
    assert (letter["id"], letter["attempts"]) == (ref.id, 3)
    assert "lease expired on attempt 3 of 3" in letter["last_error"]


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("scheme", ["file", "stdin"])
def test_what_a_line_transport_cannot_do_raises_clear_errors(
    scheme: str, tasks: Path, tmp_path: Path,
) -> None:
    url = f"file://{tasks}" if scheme == "file" else f"stdin://?dead={tmp_path / 'd.jsonl'}"
    basket = Basket(url, **({"output_fd": os.open(os.devnull, os.O_WRONLY)}
                            if scheme == "stdin" else {}))
    ref = basket.enqueue("stamp")
    calls: list[Callable[[], object]] = [
        lambda: basket.enqueue("stamp", unique_key="once"),
        lambda: basket.enqueue("stamp", connection=object()),
        lambda: basket.get(ref.id),
        lambda: basket.list(),
        lambda: basket.list(state="queued"),
        lambda: basket.count(state="queued"),
        lambda: basket.cancel(ref.id),
        lambda: basket.clean("1d"),
        lambda: basket.delete(ref.id),
    ]
    if scheme == "stdin":
        calls.append(lambda: basket.retry(ref.id))
    for call in calls:
        with pytest.raises(UnsupportedOperationError) as caught:
            call()
        assert f"{scheme}://" in str(caught.value) and "docs/buses.md" in str(caught.value)
    assert basket.count(state="failed") == 0 and basket.stats() == {}
    assert basket.backend.capabilities.is_bus
    basket.close()


def test_misuse_is_refused_with_the_fix(tasks: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no task file"):
        FileBackend(f"file://{tasks}").listener(None)
    tasks.touch()
    first, second = FileBackend(f"file://{tasks}"), FileBackend(f"file://{tasks}")
    first.listener(None)
    with pytest.raises(ConfigurationError, match="another worker is reading"):
        second.listener(None)
    first.close()
    for url, words in [(f"file://{tasks}?follow=maybe", "write follow=1"),
                       (f"file://{tasks}?speed=9", "unknown option"),
                       ("stdin:///some/path", "takes no path"),
                       (f"file://{tasks}?dead={tasks}", "the task file itself")]:
        with pytest.raises(ConfigurationError, match=words):
            Basket(url).backend  # noqa: B018 - opening it is the test
