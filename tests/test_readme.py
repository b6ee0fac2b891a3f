"""The README's quick start works as written: importing the module (as the worker does)
enqueues nothing; running it enqueues its tasks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from taskbasket import Basket
from tests.helpers import ROOT


def quick_start() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Fifteen lines"):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the quick start's Python block"
    return match.group(1)


def test_the_quick_start_enqueues_only_when_run(tmp_path: Path) -> None:
    (tmp_path / "myapp.py").write_text(quick_start())
    env = {"PYTHONPATH": f"{ROOT / 'src'}:{tmp_path}", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", "import myapp; assert myapp.basket.registry"],
                   cwd=tmp_path, env=env, check=True, timeout=60)
    database = tmp_path / "tasks.db"
    if database.exists():  # opening the store is allowed; enqueueing is not
        with Basket(f"sqlite:///{database}") as basket:
            assert basket.count() == 0, "importing the quick start enqueued tasks"
    run = subprocess.run([sys.executable, "myapp.py"], cwd=tmp_path, env=env, check=True,
                         timeout=60, capture_output=True, text=True)
    assert run.stdout.strip() == "queued"
    with Basket(f"sqlite:///{database}") as basket:
        assert sorted(t.name for t in basket.list()) == ["send_email", "send_email"]
