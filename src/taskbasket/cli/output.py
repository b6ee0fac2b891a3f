"""What the ``taskbasket`` command prints: tables, JSON, one-line errors and reports.

Task data (names, queues, errors, arguments, URLs) is never read as rich markup: it goes
into ``Text`` objects (``plain``) or through ``escape``, so ``[/var/data]`` prints as
written; and its terminal control characters are shown visibly (``\x1b``: see
``taskbasket.terminal``), in ``Text`` and in any ``str`` the consoles print. Error lines
hide secrets (``redact_text``). JSON output is ``json.dumps`` of the data, unchanged.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, NoReturn

import click
from rich.text import Text

from taskbasket.redaction import redact_text
from taskbasket.task import State
from taskbasket.terminal import SafeConsole, visible

console = SafeConsole()  # shows control characters from the store visibly
err_console = SafeConsole(stderr=True)
STATE_COLOURS = {
    State.WAITING: "bright_black", State.QUEUED: "cyan", State.SCHEDULED: "blue",
    State.RUNNING: "yellow",
    State.RETRYING: "magenta", State.SUCCEEDED: "green", State.FAILED: "red",
    State.CANCELLED: "dim",
}


def plain(text: str, style: str = "") -> Text:
    """``text`` to print as written: never read as markup, control characters visible."""
    return Text(visible(text), style=style)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` (as plain text, secrets hidden) on stderr and exit with
    ``code``."""
    err_console.print(Text.assemble(("error:", "bold red"), " ", plain(redact_text(message))),
                      highlight=False)
    sys.exit(code)


def warn(message: str) -> None:
    """Print ``message`` (as plain text) on stderr, in yellow."""
    err_console.print(plain(message, "yellow"), highlight=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, default=_json_default, indent=2, ensure_ascii=False))


def when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def state_cell(state: State) -> Text:
    return Text(state.value, style=STATE_COLOURS[state])


def say(*parts: str | tuple[str, str]) -> None:
    """Print plain text parts, or (text, style) pairs, on stdout; never read as markup."""
    console.print(Text.assemble(*(
        plain(part) if isinstance(part, str) else plain(*part) for part in parts
    )), highlight=False)


def report(as_json: bool, verb: str, count: int) -> None:
    if as_json:
        emit_json({verb: count})
    else:
        say(f"{verb} {count} task{'s' if count != 1 else ''}")
