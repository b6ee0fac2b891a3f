"""Commands that read the store: ``ls``, ``count`` and ``show``."""

from __future__ import annotations

import json
from datetime import datetime

import click
from rich.table import Table

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
from taskbasket.cli.output import console, emit_json, fail, state_cell, when
from taskbasket.cli.root import main
from taskbasket.task import State


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
    if ctx.as_json:
        emit_json([t.as_dict() for t in tasks])
        return
    known = set(basket.registry)
    table = Table(show_lines=False, header_style="bold")
    for column in ("id", "name", "queue", "state", "prio", "attempts", "created", "run at",
                   "last error"):
        table.add_column(column, overflow="fold")
    for t in tasks:
        name = t.name if not known or t.name in known else f"{t.name} [red](unknown)[/]"
        error = (t.last_error or "").strip().splitlines()[-1:] or [""]
        table.add_row(t.id, name, t.queue, state_cell(t.state), str(t.priority),
                      f"{t.attempts}/{t.max_attempts}", when(t.created_at), when(t.run_at),
                      error[0][:60])
    console.print(table)
    if len(tasks) == limit:
        console.print(f"[dim]more: taskbasket ls --before {tasks[-1].id}[/]")


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
        table.add_row(q, *(str(stats.get((q, s), 0)) for s in State))
    table.add_row("[bold]all[/]", *(
        f"[bold]{sum(stats.get((q, s), 0) for q in queue_names)}[/]" for s in State
    ))
    console.print(table)
    if ctx.app and not getattr(basket.backend, "is_bus", False):  # a bus cannot list
        unknown = basket.unknown_names()
        if unknown:
            console.print("[yellow]waiting for a worker that knows them:[/] " + ", ".join(
                f"{name} ({n})" for name, n in sorted(unknown.items())))


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
        if key in ("last_error", "payload_error") or value is None:
            continue
        if key == "state":
            shown = state_cell(task.state)
        elif isinstance(value, datetime):
            shown = when(value)
        elif isinstance(value, list | dict):
            shown = json.dumps(value, ensure_ascii=False)
        else:
            shown = str(value)
        table.add_row(key, shown)
    console.print(table, highlight=False)
    if task.payload_error:
        console.print(f"[red]arguments unreadable:[/] {task.payload_error}", highlight=False)
    if task.last_error:
        console.print("[bold]last error:[/]")
        console.print(task.last_error, highlight=False, markup=False)
