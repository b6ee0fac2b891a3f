"""``taskbasket queues`` and ``taskbasket queue pause|resume|set NAME``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from taskbasket import Basket
from taskbasket.cli import main


def test_list_pause_resume_and_set_limits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    basket = Basket(url)
    job = basket.task(name="job", queue="emails")(lambda: None)
    job.enqueue()
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, [*args, "--url", url])
        assert result.exit_code == code, result.output
        return result.output

    assert json.loads(run("queue", "pause", "emails", "--json")) == {
        "queue": "emails", "paused": True}
    run("queue", "set", "emails", "--concurrency", "2", "--rate-limit", "10/s")
    listed = json.loads(run("queues", "--json"))
    assert [(q["name"], q["paused"], q["concurrency"], q["rate_limit"], q["counts"]["queued"])
            for q in listed] == [("emails", True, 2, "10/s", 1)]
    table = run("queues")
    assert "emails" in table and "2 at once, 10/s" in table and "yes" in table
    run("queue", "resume", "emails")
    run("queue", "set", "emails", "--concurrency", "none")
    (info,) = basket.queues()
    assert (info.paused, info.concurrency, info.rate_limit) == (False, None, "10/s")
    run("queue", "set", "emails", "--rate-limit", "NONE")
    assert basket.queues()[0].rate_limit is None


def test_bad_limits_are_refused_naming_the_field(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    runner = CliRunner()
    for args, field in ((["--rate-limit", "ten per second"], "rate_limit"),
                        (["--rate-limit", "0/s"], "rate_limit"),
                        (["--concurrency", "0"], "concurrency"),
                        (["--concurrency", "two"], "--concurrency")):
        result = runner.invoke(main, ["queue", "set", "q", *args, "--url", url])
        assert result.exit_code == 2, result.output
        assert field in result.output
    result = runner.invoke(main, ["queue", "set", "q", "--url", url])
    assert result.exit_code == 2 and "--concurrency" in result.output
