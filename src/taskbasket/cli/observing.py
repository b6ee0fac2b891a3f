"""Commands that tell what the workers do: ``workers`` (the worker registry, a table or
``--json``) and ``explain ID`` (why a task is not running now)."""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from taskbasket.cli.context import Context, common_options, pass_context, run_safely
from taskbasket.cli.output import console, emit_json, fail, plain, say, when
from taskbasket.cli.root import main


@main.command()
@common_options
@pass_context
@run_safely
def workers(ctx: Context) -> None:
    """List the workers of the store: host, pid, queues, busy slots, last heartbeat.

    A worker unseen for three heartbeat intervals shows as gone (killed, frozen or cut off);
    its row is deleted after an hour. A graceful stop deletes the row at once."""
    found = ctx.basket().workers()
    if ctx.as_json:
        emit_json([worker.as_dict() for worker in found])
        return
    if not found:
        say("no worker is registered with this store")
        return
    table = Table(header_style="bold")
    table.add_column("id", overflow="fold")
    for column in ("state", "host", "pid", "queues", "busy", "tasks", "started", "last seen"):
        table.add_column(column, overflow="fold")
    for w in found:
        table.add_row(
            plain(w.id), Text(w.state, style="red" if w.gone else "green"), plain(w.host),
            str(w.pid), plain(",".join(w.queues) if w.queues is not None else "*"),
            f"{w.busy}/{w.concurrency}", plain(",".join(w.tasks)), when(w.started_at),
            when(w.last_seen_at))
    console.print(table)


@main.command()
@common_options
@click.argument("task_id")
@pass_context
@run_safely
def explain(ctx: Context, task_id: str) -> None:
    """Say why task TASK_ID is not running now (or that it runs, on which worker, or that it
    is final); exit status 1 if no such task is stored."""
    answer = ctx.basket().explain(task_id)
    if ctx.as_json:
        emit_json(answer.as_dict())
    elif answer.state is not None:
        say(str(answer))
    if answer.state is None:
        if ctx.as_json:
            raise SystemExit(1)
        fail(str(answer), code=1)


__all__ = ["explain", "workers"]
