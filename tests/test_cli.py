"""The ``taskbasket`` command, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_taskbasket

APP = '''
from taskbasket import Basket
basket = Basket()

@basket.task(queue="emails", max_attempts=1)
def send_email(to: str) -> None:
    if to == "bad":
        raise ValueError("no such mailbox")
'''


def tb(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_taskbasket(*args, cwd=cwd, stdin=stdin)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "myapp.py").write_text(APP)
    return tmp_path




def test_commands_end_to_end(project: Path) -> None:
    run = tb("--app", "myapp", "enqueue", "send_email", "--args", '["bad"]', cwd=project)
    assert run.returncode == 0, run.stderr
    task_id = run.stdout.strip()
    shown = json.loads(tb("show", task_id, "--json", cwd=project).stdout)
    assert shown["state"] == "queued" and shown["args"] == ["bad"]
    # a worker that runs until the queue is empty, through the Python API
    code = ("import sys; sys.path.insert(0, '.'); import myapp; "
            "myapp.basket.worker(concurrency=1, visibility_timeout=5).run_until_empty(30)")
    subprocess.run([sys.executable, "-c", code], cwd=project, check=True, timeout=60,
                   env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    listed = json.loads(tb("ls", "--state", "failed", "--json", cwd=project).stdout)
    assert [t["id"] for t in listed] == [task_id]
    assert "no such mailbox" in listed[0]["last_error"]
    human = tb("show", task_id, cwd=project).stdout
    assert "no such mailbox" in human and "failed" in human
    assert json.loads(tb("retry", "--name", "send_email", "--json", cwd=project).stdout) == {
        "retried": 1}
    assert json.loads(tb("count", "--state", "queued", "--json", cwd=project).stdout) == {
        "count": 1}
    assert json.loads(tb("cancel", task_id, "--json", cwd=project).stdout) == {"cancelled": 1}
    refused = tb("purge", "--state", "cancelled", cwd=project, stdin="")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert json.loads(tb("purge", "--state", "cancelled", "--yes", "--json",
                         cwd=project).stdout) == {"deleted": 1}
    assert json.loads(tb("clean", "--older-than", "7d", "--json", cwd=project).stdout) == {
        "cleaned": 0}
    assert tb("show", task_id, cwd=project).returncode == 1


def test_app_option_shows_unknown_names(project: Path) -> None:
    tb("enqueue", "renamed_task", cwd=project)
    out = tb("--app", "myapp:basket", "count", cwd=project).stdout
    assert "renamed_task (1)" in out
    listing = tb("--app", "myapp", "ls", cwd=project).stdout
    assert "(unknown)" in listing


def test_bad_input_gets_one_clear_line(project: Path) -> None:
    cases = [
        (["--url", "mongo://x", "ls"], "supported schemes"),
        (["ls", "--url", "mongo://x"], "supported schemes"),
        (["enqueue", "x", "--args", "{bad"], "must be JSON"),
        (["enqueue", "x", "--args", '{"a": 1}'], "JSON list"),
        (["enqueue", "x", "--delay", "soon"], "cannot read duration"),
        (["enqueue", "x", "--priority", "99999999"], "out of range"),
        (["clean", "--older-than", "forever"], "cannot read duration"),
        (["worker", "nosuchmodule:basket"], "cannot import 'nosuchmodule'"),
        (["worker", "myapp:nothing"], "no Basket named nothing"),
        (["worker"], "needs your tasks"),
        (["retry"], "say which tasks"),
        (["ls", "--state", "done"], "Invalid value"),
        (["ls", "--before", "garbage"], "before must be a task id"),
        (["ls", "--url", "redis://127.0.0.1:6379/five"], "names database 'five'"),
    ]
    for args, expected in cases:
        result = tb(*args, cwd=project)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr, (args, result.stderr)
    assert json.loads(tb("count", "--json", cwd=project).stdout) == {}  # nothing stored


def test_enqueue_with_app_refuses_a_typo_and_without_app_takes_any_name(
    project: Path,
) -> None:
    typo = tb("--app", "myapp", "enqueue", "sned_email", "--args", '["a@b.c"]', cwd=project)
    assert typo.returncode == 2, typo
    assert "Did you mean 'send_email'?" in typo.stderr and "leave out --app" in typo.stderr
    wrong = tb("--app", "myapp", "enqueue", "send_email", "--args", '["a"]', "--kwargs",
               '{"too": 1}', cwd=project)
    assert wrong.returncode == 2 and "unexpected keyword argument 'too'" in wrong.stderr
    assert json.loads(tb("count", "--json", cwd=project).stdout) == {}  # nothing stored
    by_name = tb("enqueue", "sned_email", "--args", '["a@b.c"]', cwd=project)
    assert by_name.returncode == 0, by_name.stderr  # no --app: the names are not known here
    assert json.loads(tb("count", "--name", "sned_email", "--json", cwd=project).stdout) == {
        "count": 1}


def test_migrate(project: Path) -> None:
    result = tb("migrate", "--url", f"sqlite:///{project}/m.db", cwd=project)
    assert result.returncode == 0 and "up to date" in result.stdout
    assert (project / "m.db").exists()
