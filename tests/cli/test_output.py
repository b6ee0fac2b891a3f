"""What ``taskbasket`` prints is the data as stored: never read as rich markup, never
changed in ``--json``, ids whole on one line even in an 80-column terminal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from taskbasket import Basket
from tests.helpers import ROOT, run_taskbasket

APP = '''
from taskbasket import Basket, Fail

basket = Basket("sqlite:///tasks.db")

@basket.task(max_attempts=3)
def mount(path: str) -> None:
    raise Fail(f"mount point [{path}] is read-only")

@basket.task(name="weird[/]name", max_attempts=1)
def weird(note: str) -> None:
    raise OSError(2, "No such file")

@basket.task(max_attempts=1)
def gives_up() -> None:
    raise ValueError("[Errno 2] nope [bold]")
'''


def _run_worker(project: Path) -> None:
    code = ("import sys; sys.path.insert(0, '.'); import markupapp; "
            "markupapp.mount.enqueue('/var/data'); markupapp.weird.enqueue('[red]x[/]'); "
            "markupapp.gives_up.enqueue(); "
            "markupapp.basket.enqueue('[/]', queue='[q]', strict=False); "
            "markupapp.basket.worker(concurrency=1, queues=['default']).run_until_empty(30)")
    subprocess.run([sys.executable, "-c", code], cwd=project, check=True, timeout=60,
                   env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})


def test_task_data_is_printed_as_written_in_every_command(tmp_path: Path) -> None:
    (tmp_path / "markupapp.py").write_text(APP)
    _run_worker(tmp_path)
    with Basket(f"sqlite:///{tmp_path / 'tasks.db'}") as basket:
        stored = {t.id: t for t in basket.list()}
    assert len(stored) == 4
    for columns in (80, 200):
        listing = run_taskbasket("--app", "markupapp", "ls", cwd=tmp_path, columns=columns)
        assert listing.returncode == 0, listing.stderr
        lines = listing.stdout.splitlines()
        for task_id in stored:  # whole, on one line
            assert any(task_id in line for line in lines), (task_id, listing.stdout)
        out = listing.stdout
        assert "Fail: mount point [/var/data] is read-only" in out
        assert "ValueError: [Errno 2] nope [bold]" in out  # the exception line ...
        assert "[gave up" not in out  # ... not the worker's note after it
        assert "FileNotFoundError: [Errno 2] No such file" in out
        assert "weird[/]name" in out and "[q]" in out
        assert "[/] (unknown)" in out  # a name the app does not know, marked as such
    weird = next(t for t in stored.values() if t.name == "weird[/]name")
    shown = run_taskbasket("--app", "markupapp", "show", weird.id, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "weird[/]name" in shown.stdout and '["[red]x[/]"]' in shown.stdout
    assert "[gave up after attempt 1 of 1]" in shown.stdout  # show keeps the whole error
    counted = run_taskbasket("--app", "markupapp", "count", cwd=tmp_path)
    assert counted.returncode == 0, counted.stderr
    assert "[q]" in counted.stdout and "[/] (1)" in counted.stdout
    # --json is the stored data, unchanged
    as_json = json.loads(run_taskbasket("--app", "markupapp", "ls", "--json", cwd=tmp_path).stdout)
    assert {t["id"]: (t["name"], t["queue"], t["last_error"], t["args"]) for t in as_json} == {
        t.id: (t.name, t.queue, t.last_error, t.args) for t in stored.values()}
    one = json.loads(run_taskbasket("--app", "markupapp", "show", weird.id, "--json",
                                    cwd=tmp_path).stdout)
    assert one["last_error"] == weird.last_error and one["args"] == ["[red]x[/]"]


def test_an_error_message_with_brackets_is_printed_whole(tmp_path: Path) -> None:
    result = run_taskbasket("enqueue", "job", "--queue", "[/]\t[bold]", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "'[/]\\t[bold]'" in result.stderr


def test_error_line_is_the_exception_line() -> None:
    from datetime import UTC, datetime

    from taskbasket.task import State, Task

    def task(error: str | None) -> Task:
        now = datetime.now(UTC)
        return Task("id", "n", "q", State.FAILED, 0, 1, 1, 1.0, [], {}, None, error, now, now,
                    None, None, None)

    assert task(None).error_line == ""
    assert task("Traceback ...\n  File x\nValueError: boom\n[gave up after attempt 3 of 3]"
                ).error_line == "ValueError: boom"
    assert task("Fail: [x] is [/] odd").error_line == "Fail: [x] is [/] odd"
    assert task("KeyError: 'a'\n").error_line == "KeyError: 'a'"


def test_show_prints_the_result_and_the_progress(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    basket = Basket(url)

    @basket.task
    def measure() -> dict[str, object]:
        from taskbasket import current_task

        ctx = current_task()
        assert ctx is not None
        ctx.progress(3, 4, note="[bold]nearly[/]")
        return {"width": 640, "label": "[red]x[/]"}

    ref = measure.enqueue()
    basket.worker(concurrency=1).run_until_empty(30)
    basket.close()
    shown = run_taskbasket("show", ref.id, "--url", url, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert '{"width": 640, "label": "[red]x[/]"}' in shown.stdout  # as stored, no markup
    assert "3 of 4 (75%) - [bold]nearly[/], at " in shown.stdout
    data = json.loads(run_taskbasket("show", ref.id, "--url", url, "--json",
                                     cwd=tmp_path).stdout)
    assert data["result"] == {"width": 640, "label": "[red]x[/]"}
    assert data["progress"]["done"] == 3 and data["progress"]["note"] == "[bold]nearly[/]"
