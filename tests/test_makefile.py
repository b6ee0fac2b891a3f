"""The Makefile's promises: the demo, lint and typecheck need no system packages; only the
test run installs the browser its browser test drives."""

from __future__ import annotations

import shutil
import subprocess

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
