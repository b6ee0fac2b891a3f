"""A worker's start, as a user runs ``taskbasket worker``: it names its store (without
passwords, a SQLite file by its absolute path), exits with status 2 and says how to wait
when the store does not answer, waits with --wait-for-store, and warns about waiting
tasks that none of its handlers knows."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from taskbasket import Basket
from tests.helpers import ROOT, run_taskbasket, wait_for
from tests.stores import available_store

APP = '''
from taskbasket import Basket
basket = Basket()

@basket.task
def send_email(to: str) -> None: ...
'''


class Worker:
    """``taskbasket worker startapp:basket ARGS`` running in ``cwd``, logging to a file."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.log_path = cwd / f"worker-{os.urandom(3).hex()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "taskbasket", "worker", "startapp:basket", *args], cwd=cwd,
            stdout=self._log, stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"},
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        wait_for(lambda: text in self.log() or self.proc.poll() is not None, timeout,
                 f"{text!r} in the worker's log")
        assert text in self.log(), self.log()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self._log.close()
        return code


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "startapp.py").write_text(APP)
    return tmp_path


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_worker_whose_store_does_not_answer_exits_saying_how_to_wait(project: Path) -> None:
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    result = run_taskbasket("worker", "startapp:basket", "--url", url, cwd=project)
    assert result.returncode == 2, result
    assert "retry with backoff" not in result.stderr.replace("\n", " ")  # it does not
    assert "pass --wait-for-store SECONDS" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


@pytest.fixture
def missing_database() -> Iterator[str]:
    """The URL (with a password, which trust authentication ignores) of a PostgreSQL
    database that does not exist yet; dropped afterwards."""
    available_store("postgres")
    import psycopg

    from tests.stores.postgres import BASE_URL

    name = f"tb_wait_{os.getpid()}_{os.urandom(3).hex()}"
    parts = urlsplit(BASE_URL)
    netloc = f"{parts.username}:s3cret-pw@{parts.hostname}:{parts.port or 5432}"
    yield urlunsplit(parts._replace(netloc=netloc, path=f"/{name}"))
    with psycopg.connect(BASE_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.slow
def test_wait_for_store_starts_the_worker_once_the_store_answers(
    project: Path, missing_database: str,
) -> None:
    import psycopg

    from tests.stores.postgres import BASE_URL

    worker = Worker(project, "--url", missing_database, "--wait-for-store", "60")
    try:
        worker.wait_for_log("waiting up to 60s for it")
        assert worker.proc.poll() is None and "started:" not in worker.log()
        with psycopg.connect(BASE_URL, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {urlsplit(missing_database).path[1:]}")
        worker.wait_for_log("started:")
        with Basket(missing_database) as basket:
            ref = basket.enqueue("send_email", ["a@b.c"])
            wait_for(lambda: basket.get(ref.id).state == "succeeded", 30,  # type: ignore[union-attr]
                     "the task to run")
    finally:
        code = worker.stop()
    log = worker.log()
    assert code == 0, log
    assert "s3cret-pw" not in log and "postgres:***@" in log  # the store, named safely


def test_the_worker_names_its_store_and_warns_about_names_it_does_not_know(
    project: Path,
) -> None:
    with Basket(f"sqlite:///{project / 'tasks.db'}") as producer:  # knows no handler
        producer.enqueue("sned_email", ["a@b.c"])
        producer.enqueue("send_email", ["b@c.d"])
        producer.enqueue("other_app_task", queue="elsewhere")
    worker = Worker(project, "--url", "sqlite:///tasks.db", "-q", "default")
    try:
        worker.wait_for_log("started:")
        worker.wait_for_log("none of its handlers knows")
    finally:
        code = worker.stop()
    log = worker.log()
    assert code == 0, log
    assert f"sqlite:///tasks.db (the file {project / 'tasks.db'})" in log  # absolute
    assert "1 waiting task(s)" in log and "sned_email (1)" in log
    assert "other_app_task" not in log  # in a queue this worker does not serve
