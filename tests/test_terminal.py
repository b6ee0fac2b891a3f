"""Escape sequences from task data never reach the operator's terminal (issue #14 F6):
the CLI and the worker's log lines show control characters visibly; --json stays exact."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from taskbasket import Basket
from taskbasket.terminal import visible
from tests.helpers import ROOT, WorkerProcess, wait_for

# set the window title, write the clipboard (OSC 52), clear the screen, a C1 CSI, a
# right-to-left override and a carriage return that would hide what came before
HOSTILE = ("title\x1b]0;pwned\x07 clip\x1b]52;c;cm0gLXJmIH4=\x07 clear\x1b[2J\x1b[H "
           "c1\x9b31m rtl\u202etxt.exe cr\rhidden")
RAW = ["\x1b", "\x07", "\x9b", "\u202e", "\r"]

def test_visible_rewrites_controls_and_keeps_the_rest() -> None:
    assert visible("a\x1b[2Jb\tc\nd\x00e\x7f\x9b\u202e") == (
        "a\\x1b[2Jb\tc\nd\\x00e\\x7f\\x9b\\u202e")
    assert visible("plain ünïcode [red]") == "plain ünïcode [red]"


def _tb(cwd: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskbasket", "--url", url, *args], cwd=cwd,
        capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "250"})


def test_show_ls_and_worker_logs_render_control_characters_visibly(
    sqlite_url: str, tmp_path: Path
) -> None:
    basket = Basket(sqlite_url)
    ref = basket.enqueue("hostile", args=[HOSTILE])
    worker = WorkerProcess(sqlite_url, tmp_path / "effects.db", "--concurrency", "1",
                           app="tests.apps.hostileapp:basket")
    try:
        wait_for(lambda: basket.count("failed") == 1, 60, "the task to fail")
        worker.terminate()
        logs = worker.log()
    finally:
        worker.stop()
        basket.close()
    assert "failed on attempt 1 of" in logs
    assert "\\x1b]52;c;" in logs and not any(c in logs for c in RAW), logs

    shown = _tb(tmp_path, sqlite_url, "show", ref.id)
    listed = _tb(tmp_path, sqlite_url, "ls")
    for run in (shown, listed):
        assert run.returncode == 0, run.stderr
        output = run.stdout + run.stderr
        assert not any(c in output for c in RAW), output
    assert "\\x1b]0;pwned\\x07" in shown.stdout and "\\u202etxt.exe" in shown.stdout
    assert ref.id in listed.stdout
    exact = json.loads(_tb(tmp_path, sqlite_url, "show", ref.id, "--json").stdout)
    assert exact["args"] == [HOSTILE] and exact["last_error"] == f"Fail: {HOSTILE}"
