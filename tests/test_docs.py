"""The documentation site is checked where CI runs: ``make test`` builds it with --strict,
so a broken link, anchor, snippet or API reference fails the run."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.helpers import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def test_make_test_builds_the_docs_strictly() -> None:
    commands = subprocess.run(["make", "-n", "-B", "test"], cwd=ROOT, capture_output=True,
                              text=True, check=True, timeout=60).stdout
    build = [line for line in commands.splitlines() if "mkdocs build" in line]
    assert build and "--strict" in build[0]
    # mkdocs --quiet drops warnings before --strict counts them: the build would pass
    assert "--quiet" not in build[0] and " -q" not in build[0]


def test_every_page_in_docs_is_in_the_navigation() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["strict"] is True and config["validation"]["anchors"] == "warn"

    def pages(nav: object) -> list[str]:
        if isinstance(nav, str):
            return [nav]
        if isinstance(nav, list):
            return [p for item in nav for p in pages(item)]
        if isinstance(nav, dict):
            return [p for value in nav.values() for p in pages(value)]
        return []

    listed = set(pages(config["nav"]))
    present = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    assert present == listed
