"""Secrets never shown: URL forms, error texts, reprs, log lines, and every CLI command's
output (issue #14 F4, issue #18 item 2)."""

from __future__ import annotations

import logging
import os
import pty
import select
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from taskbasket import Basket, ConfigurationError, TaskbasketError
from taskbasket.redaction import redact_text, redact_url
from tests.helpers import ROOT, wait_for
from tests.stores import available_store, new_store, unique_tag


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:secret@h:5432/db?schema=x", "postgresql://u:***@h:5432/db?schema=x"),
        ("redis://h/0?password=pw&prefix=a", "redis://h/0?password=***&prefix=a"),
        ("sqlite:///a.db", "sqlite:///a.db"),
        ("sqlite:////abs/a.db", "sqlite:////abs/a.db"),
        ("nats://s3cretTOKEN@127.0.0.1:4222", "nats://***@127.0.0.1:4222"),
        ("tls://tok@h:4222", "tls://***@h:4222"),
        ("postgresql://postgres@h/db", "postgresql://postgres@h/db"),  # a user name
        ("redis://:pw@h/0", "redis://:***@h/0"),
        ("postgresql://h/db?pass%77ord=zz&sslmode=require",
         "postgresql://h/db?pass%77ord=***&sslmode=require"),
        ("mysql://root@h/db?passwd=abc;ssl=1", "mysql://root@h/db?passwd=***;ssl=1"),
        ("amqp://guest:guest@h:5672/%2F", "amqp://guest:***@h:5672/%2F"),
        ("mongodb://admin:hunter2@db/x", "mongodb://admin:***@db/x"),
        ("https://ghp_token@example.com/x#frag", "https://***@example.com/x#frag"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:pa%zzword@h/db", "postgresql://u:***@h/db"),
        ("nats://h:4222?token=abc&prefix=x", "nats://h:4222?token=***&prefix=x"),
        ("not a url", "not a url"),
        # a direct URL for LISTEN inside the URL of a pooler (issue #25)
        ("postgresql://u:pw@h:6432/db?pooler=transaction&listen_url="
         "postgresql%3A%2F%2Fu%3Ahunter2%40h%3A5432%2Fdb",
         "postgresql://u:***@h:6432/db?pooler=transaction&listen_url="
         "postgresql://u:***@h:5432/db"),
        ("postgresql://h/db?listen_url=postgresql%3A%2F%2Fu%40h%2Fdb",
         "postgresql://h/db?listen_url=postgresql%3A%2F%2Fu%40h%2Fdb"),
    ],
)
def test_redact_url_forms(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_hides_urls_options_and_known_secrets() -> None:
    text = ("see nats://tok123@h:4222 and 'postgresql://u:pw@h/db', "
            "conninfo host=h password='a b' user=x")
    assert redact_text(text) == ("see nats://***@h:4222 and 'postgresql://u:***@h/db', "
                                 "conninfo host=h password=*** user=x")
    # a driver's text that quotes the password alone: hidden once its URL is known
    url = "postgresql://postgres:Pct%zzWord@127.0.0.1:5432/test"
    assert redact_text('invalid percent-encoded token: "Pct%zzWord"', url) == (
        'invalid percent-encoded token: "***"')


def test_basket_repr_hides_the_password() -> None:
    basket = Basket("postgresql://u:ReprSecret1@127.0.0.1:5432/db")
    assert "ReprSecret1" not in repr(basket) and "u:***@" in repr(basket)


def test_taskbasket_errors_never_carry_a_remembered_secret() -> None:
    Basket("redis://:ErrSecret42@127.0.0.1:6379/0")  # remembered as the URL is checked
    assert "ErrSecret42" not in str(TaskbasketError("the server said: bad ErrSecret42"))


def test_libpq_error_for_a_password_with_a_percent_is_redacted() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(ConfigurationError) as info:
        Basket("postgresql://postgres:Pa%zzSecret@127.0.0.1:5432/test").count()
    assert "zzSecret" not in str(info.value) and "percent-encoded" in str(info.value)


def test_log_filter_hides_secrets_and_control_characters() -> None:
    from taskbasket.logs import SafeLogFilter

    record = logging.LogRecord("taskbasket.tasks", logging.ERROR, __file__, 1,
                               "task %s failed: %s", ("t1", "boom\x1b]52;c;SGk=\x07 "
                                                      "redis://:LogPw123@h/0"), None)
    assert SafeLogFilter().filter(record)
    assert record.getMessage() == "task t1 failed: boom\\x1b]52;c;SGk=\\x07 redis://:***@h/0"


# --------------------------------------------------------------------------- the CLI

PASSWORD, QUERY_SECRET, NATS_TOKEN = "UserInfoPw7", "QuerySecret9", "NatsTok3n8"
BAD_SECRETS = {
    "postgresql://postgres:Pct%zzSecret5@127.0.0.1:5432/test": "zzSecret5",
    "postgresql://postgres:RefusedPw6@127.0.0.1:1/test": "RefusedPw6",
    "mysql://root:MysqlPw88@127.0.0.1:3306/test": "MysqlPw88",
    "redis://nobody:RedisPw77@127.0.0.1:6379/0": "RedisPw77",
    "mongodb://admin:MongoPw66@127.0.0.1/x": "MongoPw66",
}
SECRETS = [PASSWORD, QUERY_SECRET, NATS_TOKEN, *BAD_SECRETS.values()]

APP = '''
from taskbasket import Basket
basket = Basket()

@basket.task
def job(n: int) -> None:
    pass
'''


def _env(url: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200",
            "TASKBASKET_URL": url, "PYTHONUNBUFFERED": "1"}


def tb(project: Path, url: str, *args: str) -> str:
    """Run the real command; its whole output (stdout and stderr)."""
    run = subprocess.run([sys.executable, "-m", "taskbasket", *args], cwd=project,
                         env=_env(url), capture_output=True, text=True, timeout=90,
                         stdin=subprocess.DEVNULL)
    return run.stdout + run.stderr


class Running:
    """A long-running command (worker, dashboard, metrics) whose output is collected."""

    def __init__(self, project: Path, url: str, *args: str) -> None:
        self.out = project / f"out-{os.urandom(3).hex()}.log"
        self._file = open(self.out, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "taskbasket", *args], cwd=project,
                                     env=_env(url), stdout=self._file,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_for_output(self, needle: str) -> str:
        wait_for(lambda: needle in self.text() or self.proc.poll() is not None, 60,
                 f"{needle!r} in the output")
        return self.text()

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._file.close()
        return self.text()


def _purge_prompt(project: Path, url: str) -> str:
    """``purge`` without --yes on a terminal: its question, answered no."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "taskbasket", "purge"], cwd=project,
                            env=_env(url), stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    seen = b""
    try:
        def asked() -> bool:
            nonlocal seen
            if select.select([leader], [], [], 0.1)[0]:
                seen += os.read(leader, 4096)
            return b"[y/N]" in seen

        wait_for(asked, 60, "the purge prompt")
        os.write(leader, b"n\n")
        proc.wait(30)
        with_rest = True
        while with_rest and select.select([leader], [], [], 0.2)[0]:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                chunk = b""
            with_rest, seen = bool(chunk), seen + chunk
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
    return seen.decode(errors="replace")


@pytest.fixture
def secret_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL store URL (trust auth: any password works) holding known secrets."""
    available_store("postgres")
    with new_store("postgres", unique_tag(request)) as url:
        parts = urlsplit(url)
        netloc = f"{parts.username}:{PASSWORD}@{parts.hostname}:{parts.port}"
        yield parts._replace(netloc=netloc, query=f"{parts.query}&pass%77ord={QUERY_SECRET}"
                             ).geturl()


def test_no_cli_command_prints_a_secret(secret_url: str, tmp_path: Path) -> None:
    from taskbasket.cli import main

    available_store("redis")
    available_store("mysql")
    (tmp_path / "myapp.py").write_text(APP)
    outputs: dict[str, str] = {}

    def run(label: str, *args: str, url: str = secret_url) -> str:
        outputs[label] = tb(tmp_path, url, *args)
        return outputs[label]

    assert "***" in run("migrate", "migrate")
    assert "***" in run("migrate --json", "migrate", "--json")
    ids = [run(f"enqueue {n}", "--app", "myapp", "enqueue", "job", "--args", f"[{n}]").strip()
           for n in range(4)]
    run("enqueue relayed", "enqueue", "job", "--args", "[9]", "--queue", "outbox")
    for command in (["ls"], ["ls", "--json"], ["count"], ["count", "--json"],
                    ["show", ids[0]], ["show", ids[0], "--json"], ["workflow", ids[0]],
                    ["workflow", ids[0], "--json"], ["cancel", ids[1]],
                    ["retry", ids[1]], ["delete", ids[2]], ["clean", "--older-than", "1s"],
                    ["purge", "--state", "failed", "--yes"], ["workers"], ["workers", "--json"],
                    ["explain", ids[0]], ["explain", ids[0], "--json"], ["queues"],
                    ["queue", "pause", "outbox"], ["queue", "resume", "outbox"],
                    ["queue", "set", "outbox", "--concurrency", "2"]):
        run(" ".join(command), *command)
    with Basket(secret_url) as producer:  # a stored schedule for the schedule commands
        producer.task(name="job")(lambda n: None)
        producer.schedule("hourly", "job", every=3600, kwargs={"n": 1})
    for command in (["schedules"], ["schedules", "--json"], ["schedule", "pause", "hourly"],
                    ["schedule", "resume", "hourly"], ["schedule", "trigger", "hourly"],
                    ["schedule", "delete", "hourly"]):
        run(" ".join(command), *command)
    outputs["purge prompt"] = _purge_prompt(tmp_path, secret_url)
    assert "***" in outputs["purge prompt"]
    nats = f"nats://{NATS_TOKEN}@127.0.0.1:4222?prefix=tb_{os.urandom(3).hex()}"
    run("relay --once", "relay", "--once", "-q", "outbox", "--to", nats)
    relay = Running(tmp_path, secret_url, "relay", "-q", "outbox", "--to", nats)
    relay.wait_for_output("relaying")
    outputs["relay"] = relay.stop()
    assert "nats://***@" in outputs["relay"] and "postgres:***@" in outputs["relay"]

    worker = Running(tmp_path, secret_url, "worker", "myapp:basket", "--log-level", "DEBUG")
    with Basket(secret_url) as basket:
        wait_for(lambda: basket.count("succeeded") >= 1, 60, "the worker to run")
    worker.wait_for_output("started:")
    outputs["worker"] = worker.stop()
    dashboard = Running(tmp_path, secret_url, "dashboard", "--port", "0")
    outputs["dashboard"] = dashboard.wait_for_output("dashboard of")
    dashboard.stop()
    metrics = Running(tmp_path, secret_url, "metrics", "--port", "0")
    outputs["metrics"] = metrics.wait_for_output("/metrics")
    metrics.stop()
    assert "***" in outputs["dashboard"] and "***" in outputs["metrics"]

    # URLs that fail: the errors and warnings they cause show no secret either
    uuid = "0190aaaa-0000-7000-8000-000000000000"
    for url in BAD_SECRETS:
        for command in (["ls"], ["count"], ["migrate", "--json"], ["show", uuid],
                        ["purge", "--yes"], ["enqueue", "job"]):
            run(f"{url} {' '.join(command)}", *command, url=url)
        worker = Running(tmp_path, url, "worker", "myapp:basket")
        worker.proc.wait(60) if "mongodb" in url else worker.wait_for_output("rror")
        outputs[f"{url} worker"] = worker.stop()
    metrics = Running(tmp_path, "redis://nobody:RedisPw77@127.0.0.1:6379/0", "metrics", "--port",
                      "0", "--cache-seconds", "0")
    port = int(metrics.wait_for_output("/metrics").rsplit(":", 1)[1].split("/")[0])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as reply:
        reply.read()
    outputs["metrics of an unreadable store"] = metrics.wait_for_output("cannot read")
    metrics.stop()

    covered = {label.split()[0] for label in outputs} | {
        label.split()[1] for label in outputs if "://" in label.split()[0]}
    assert set(main.commands) <= covered, f"not run: {set(main.commands) - covered}"
    leaks = {label: [s for s in SECRETS if s in text] for label, text in outputs.items()}
    assert not {label: found for label, found in leaks.items() if found}, outputs
