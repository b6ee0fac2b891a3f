"""One rule for the store URL, in the library and the command line: an explicit URL
(--url), then the one in code, then $TASKBASKET_URL, then sqlite:///taskbasket.db."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskbasket import Basket
from taskbasket.backends import URL_PRECEDENCE
from tests.helpers import run_taskbasket

APP = '''
from taskbasket import Basket
basket = Basket("sqlite:///code.db")

@basket.task
def job() -> None: ...
'''


def _names(project: Path, database: str) -> list[str]:
    if not (project / database).exists():
        return []
    with Basket(f"sqlite:///{project / database}") as basket:
        return [t.name for t in basket.list()]


def test_the_cli_takes_the_flag_then_the_code_then_the_environment(tmp_path: Path) -> None:
    (tmp_path / "urlapp.py").write_text(APP)
    env = {"TASKBASKET_URL": "sqlite:///env.db"}
    for args in (["--app", "urlapp", "enqueue", "job"],  # the code's URL wins over the env
                 ["--url", "sqlite:///flag.db", "--app", "urlapp", "enqueue", "job"],
                 ["enqueue", "from_env"],  # no code: the environment
                 ["--url", "sqlite:///flag.db", "enqueue", "flagged"]):
        result = run_taskbasket(*args, cwd=tmp_path, env=env)
        assert result.returncode == 0, (args, result.stderr)
    assert _names(tmp_path, "code.db") == ["job"]
    assert sorted(_names(tmp_path, "flag.db")) == ["flagged", "job"]
    assert _names(tmp_path, "env.db") == ["from_env"]
    listed = run_taskbasket("--app", "urlapp", "ls", "--json", cwd=tmp_path, env=env)
    assert [t["name"] for t in json.loads(listed.stdout)] == ["job"]  # read where it wrote


def test_the_library_takes_the_code_then_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.setenv("TASKBASKET_URL", f"sqlite:///{tmp_path}/env.db")
    assert Basket(f"sqlite:///{tmp_path}/code.db").url == f"sqlite:///{tmp_path}/code.db"
    assert Basket().url == f"sqlite:///{tmp_path}/env.db"
    explicit = Basket(f"sqlite:///{tmp_path}/code.db")
    explicit.use_url(f"sqlite:///{tmp_path}/flag.db")
    assert explicit.url == f"sqlite:///{tmp_path}/flag.db"
    monkeypatch.delenv("TASKBASKET_URL")
    assert Basket().url == "sqlite:///taskbasket.db"


def test_help_states_the_rule(tmp_path: Path) -> None:
    shown = " ".join(run_taskbasket("--help", cwd=tmp_path).stdout.split())
    assert URL_PRECEDENCE in shown
