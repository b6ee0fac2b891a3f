"""What the ``taskbasket`` command prints: tables, JSON, one-line errors and reports."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, NoReturn

import click
from rich.console import Console

from taskbasket.task import State

console = Console()
err_console = Console(stderr=True)
STATE_COLOURS = {
    State.QUEUED: "cyan", State.SCHEDULED: "blue", State.RUNNING: "yellow",
    State.RETRYING: "magenta", State.SUCCEEDED: "green", State.FAILED: "red",
    State.CANCELLED: "dim",
}


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(code)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, default=_json_default, indent=2, ensure_ascii=False))


def when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def state_cell(state: State) -> str:
    return f"[{STATE_COLOURS[state]}]{state.value}[/]"


def report(as_json: bool, verb: str, count: int) -> None:
    if as_json:
        emit_json({verb: count})
    else:
        console.print(f"{verb} {count} task{'s' if count != 1 else ''}")
