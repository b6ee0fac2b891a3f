"""``taskbasket schedules`` and ``taskbasket schedule pause|resume|trigger|delete NAME``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from taskbasket import Basket
from taskbasket.cli import main


def test_list_pause_resume_trigger_and_delete(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    basket = Basket(url)
    basket.task(name="job", queue="reports")(lambda day="": None)
    basket.schedule("nightly", "job", cron="0 3 * * *", timezone="Europe/Berlin",
                    kwargs={"day": "yesterday"})
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, [*args, "--url", url])
        assert result.exit_code == 0, result.output
        return result.output

    listed = json.loads(run("schedules", "--json"))
    assert [(s["name"], s["cron"], s["paused"]) for s in listed] == [
        ("nightly", "0 3 * * *", False)]
    assert "nightly" in run("schedules")
    assert json.loads(run("schedule", "pause", "nightly", "--json"))["paused"] is True
    assert basket.get_schedule("nightly").paused is True
    run("schedule", "resume", "nightly")
    assert basket.get_schedule("nightly").paused is False
    triggered = json.loads(run("schedule", "trigger", "nightly", "--json"))["triggered"]
    task = basket.get(triggered)
    # the command line registers no task: the run goes to the task's queue all the same
    assert task is not None and task.kwargs == {"day": "yesterday"}
    assert task.queue == "reports"
    run("schedule", "delete", "nightly")
    assert basket.schedules() == []
    missing = runner.invoke(main, ["schedule", "pause", "nightly", "--url", url])
    assert missing.exit_code == 2 and "no schedule named 'nightly'" in missing.output
    basket.close()
