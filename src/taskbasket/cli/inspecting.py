"""Commands that read the store: ``ls``, ``count`` and ``show``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from taskbasket.backends.base import Inspection
from taskbasket.cli.context import (
    Context,
    common_options,
    name_option,
    pass_context,
    queue_option,
    run_safely,
    split,
    state_option,
)
from taskbasket.cli.output import (
    console,
    emit_json,
    err_console,
    fail,
    plain,
    say,
    state_cell,
    when,
)
from taskbasket.cli.root import main
from taskbasket.history import AttemptEntry, HistoryEntry
from taskbasket.task import CorruptTask, State, Task, TaskProgress

FOLDED_WIDTH = 24
"""Names and queues longer than this are cut with "…" in ``ls`` (``show`` has them all)."""
OPTIONAL_COLUMNS = ("prio", "created", "run at")
"""Columns ``ls`` adds, in this order, while they fit the terminal's width."""


def _name_cell(task: Task, known: set[str]) -> Text:
    name = plain(task.name)
    if known and task.name not in known:
        name.append(" (unknown)", style="red")
    return name


def listing(tasks: list[Task], known: set[str], width: int) -> list[Text]:
    """The lines of ``ls``: a header, then per task a line of short fields led by the
    whole id (never folded, so it can be copied) and, below it, its last error line."""
    cells: dict[str, list[Text]] = {
        "id": [plain(t.id) for t in tasks],
        "name": [_name_cell(t, known) for t in tasks],
        "queue": [plain(t.queue) for t in tasks],
        "state": [state_cell(t.state) for t in tasks],
        "attempts": [Text(f"{t.attempts}/{t.max_attempts}") for t in tasks],
        "prio": [Text(str(t.priority)) for t in tasks],
        "created": [Text(when(t.created_at)) for t in tasks],
        "run at": [Text(when(t.run_at)) for t in tasks],
    }
    widths = {column: max([len(column), *(c.cell_len for c in values)])
              for column, values in cells.items()}
    for column in ("name", "queue"):
        widths[column] = min(widths[column], FOLDED_WIDTH)
    columns = ["id", "name", "queue", "state", "attempts"]
    for column in OPTIONAL_COLUMNS:
        if sum(widths[c] + 2 for c in [*columns, column]) <= width:
            columns.append(column)
    lines = [Text("  ".join(c.ljust(widths[c]) for c in columns).rstrip(), style="bold")]
    for index, task in enumerate(tasks):
        line = Text()
        for column in columns:
            cell = cells[column][index].copy()
            cell.truncate(widths[column], overflow="ellipsis", pad=True)
            line.append_text(cell)
            line.append("  ")
        line.rstrip()
        lines.append(line)
        if task.error_line:
            lines.append(plain("    " + task.error_line, "red"))
    return lines


def corrupt_line(task: CorruptTask) -> Text:
    """The line ``ls`` prints (on stderr) for a stored task that cannot be read."""
    return Text.assemble(("corrupt task", "red"), " ", plain(task.id), ": ", plain(task.reason))


@main.command("ls")
@common_options
@state_option
@queue_option
@name_option
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--before", default=None, help="Cursor: list tasks older than this id.")
@pass_context
@run_safely
def list_tasks(
    ctx: Context, states: tuple[str, ...], queues: tuple[str, ...], names: tuple[str, ...],
    limit: int, before: str | None,
) -> None:
    """List tasks, newest first."""
    basket = ctx.basket()
    tasks = basket.list(list(states) or None, queue=split(queues), name=split(names),
                        limit=limit, before=before)
    for bad in tasks.corrupt:  # shown apart, so one corrupt row never hides the others
        err_console.print(corrupt_line(bad), overflow="fold", highlight=False)
    if ctx.as_json:
        emit_json([t.as_dict() for t in tasks])
        return
    known = set(basket.registry)
    for line in listing(tasks, known, console.width):
        console.print(line, overflow="fold", highlight=False)
    if len(tasks) + len(tasks.corrupt) == limit:  # a full page: the cursor is its last row
        console.print(plain(f"more: taskbasket ls --before {tasks.last_id}", "dim"))


@main.command()
@common_options
@state_option
@queue_option
@name_option
@pass_context
@run_safely
def count(
    ctx: Context, states: tuple[str, ...], queues: tuple[str, ...], names: tuple[str, ...]
) -> None:
    """Count tasks; without filters, a table of queues by state."""
    basket = ctx.basket()
    if states or queues or names:
        total = basket.count(list(states) or None, queue=split(queues), name=split(names))
        if ctx.as_json:
            emit_json({"count": total})
        else:
            click.echo(total)
        return
    stats = basket.stats()
    queue_names = sorted({q for q, _ in stats})
    if ctx.as_json:
        emit_json({q: {s.value: stats.get((q, s), 0) for s in State} for q in queue_names})
        return
    table = Table(header_style="bold")
    table.add_column("queue")
    for state in State:
        table.add_column(state_cell(state), justify="right")
    for q in queue_names:
        table.add_row(plain(q), *(str(stats.get((q, s), 0)) for s in State))
    table.add_row(Text("all", style="bold"), *(
        Text(str(sum(stats.get((q, s), 0) for q in queue_names)), style="bold") for s in State
    ))
    console.print(table)
    if ctx.app and basket.backend.capabilities.inspection is Inspection.FULL:
        unknown = basket.unknown_names()
        if unknown:
            say(("waiting for a worker that knows them: ", "yellow"), ", ".join(
                f"{name} ({n})" for name, n in sorted(unknown.items())))


def progress_text(progress: TaskProgress) -> str:
    """``3 of 4 (75%) - note, at 2026-12-01 20:53:00``: a progress report on one line."""
    done = f"{progress.done:g}"
    if progress.total is not None:
        done += f" of {progress.total:g}"
    if progress.fraction is not None:
        done += f" ({progress.fraction:.0%})"
    note = f" - {progress.note}" if progress.note else ""
    return f"{done}{note}, at {when(progress.updated_at)}"


def history_table(history: Sequence[HistoryEntry]) -> Table:
    """A task's history, oldest first: one row per attempt (its number, worker, start,
    duration, outcome and error line) or edit (when, and the values it replaced)."""
    table = Table(title="history", title_justify="left", box=None)
    for column in ("attempt", "worker", "started", "took", "outcome", "error"):
        table.add_column(column, overflow="fold")
    for entry in history:
        if isinstance(entry, AttemptEntry):
            took = (entry.ended_at - entry.started_at).total_seconds()
            table.add_row(str(entry.attempt), plain(entry.worker_id or ""),
                          Text(when(entry.started_at)), f"{took:.3f}s", plain(entry.outcome),
                          plain(entry.error))
        else:
            previous = json.dumps(dict(entry.previous), ensure_ascii=False, default=str)
            table.add_row("edit", "", Text(when(entry.edited_at)), "", "edited",
                          plain(f"was {previous}"))
    return table


@main.command()
@common_options
@click.argument("task_id")
@pass_context
@run_safely
def show(ctx: Context, task_id: str) -> None:
    """Show one task: arguments, attempts, times and its last error."""
    task = ctx.basket().get(task_id)
    if task is None:
        fail(f"no task with id {task_id}", code=1)
    if ctx.as_json:
        emit_json(task.as_dict())
        return
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in task.as_dict().items():
        if key in ("last_error", "payload_error", "history") or value is None:
            continue
        if key == "state":
            shown = state_cell(task.state)
        elif key == "progress" and task.progress is not None:
            shown = plain(progress_text(task.progress))
        elif key == "result":
            shown = plain(json.dumps(value, ensure_ascii=False))
        elif isinstance(value, datetime):
            shown = Text(when(value))
        elif isinstance(value, list | dict):
            shown = plain(json.dumps(value, ensure_ascii=False))
        else:
            shown = plain(str(value))
        table.add_row(key, shown)
    console.print(table, highlight=False)
    if task.payload_error:
        say(("arguments unreadable: ", "red"), task.payload_error)
    if task.last_error:
        say(("last error:", "bold"))
        say(task.last_error)
    if task.history:
        console.print(history_table(task.history), highlight=False)
    steps = ctx.basket().steps(task_id) if ctx.basket().backend.capabilities.steps else []
    if steps:
        console.print(steps_table(steps), highlight=False)


def steps_table(steps: Sequence[tuple[str, Any]]) -> Table:
    """A task's completed durable steps, in order: name and stored result."""
    table = Table(title="steps", title_justify="left", box=None)
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("result", overflow="fold")
    for number, (name, result) in enumerate(steps, start=1):
        table.add_row(str(number), plain(name), plain(json.dumps(result, ensure_ascii=False)))
    return table
