"""The Makefile's promises: the demo, lint and typecheck need no system packages; only the
test run installs the browser its browser test drives."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def planned(target: str) -> str:
    """The commands ``make target`` would run from scratch (-B), without running them."""
    return subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=60).stdout


@pytest.mark.parametrize("target", ["demo", "lint", "typecheck", "venv"])
def test_the_demo_and_lint_install_no_browser(target: str) -> None:
    commands = planned(target)
    assert "pip install" in commands  # the venv is set up from scratch ...
    assert "apt-get" not in commands and "chromium" not in commands  # ... with no browser


@pytest.mark.parametrize("target", ["test", "pytest"])
def test_the_test_run_installs_the_browser_for_its_browser_test(target: str) -> None:
    commands = planned(target)
    assert "apt-get install -y -qq chromium" in commands and "pytest" in commands


def check_lengths(root: Path) -> subprocess.CompletedProcess[str]:
    """``make check-lengths`` over the folder ``root`` instead of the project's src/."""
    return subprocess.run(["make", "-s", "check-lengths", f"LENGTH_ROOTS={root}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_check_lengths_names_a_file_over_500_lines_and_fails(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "package").mkdir(parents=True)
    (src / "package" / "long.py").write_text("x = 1\n" * 501)
    (src / "package" / "short.py").write_text("x = 1\n" * 500)
    result = check_lengths(src)
    assert result.returncode != 0
    assert f"{src / 'package' / 'long.py'}: 501 lines" in result.stdout
    assert "short.py" not in result.stdout


def test_check_lengths_passes_files_of_500_lines_at_most(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "module.py").write_text("x = 1\n" * 499 + "x = 1")  # 500 lines, no last newline
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "module.cpython-311.pyc").write_bytes(b"\0" * 10_000)
    result = check_lengths(src)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_the_length_check_exits_1() -> None:
    from tools.check_file_length import main

    assert main(["--max-lines", "1", str(ROOT / "Makefile")]) == 1
    assert main([str(ROOT / "tools")]) == 0
