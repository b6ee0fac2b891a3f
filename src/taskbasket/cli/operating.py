"""Commands that change tasks: ``retry``, ``cancel``, ``delete``, ``purge``, ``clean``."""

from __future__ import annotations

import sys
from typing import Any

import click

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
from taskbasket.cli.output import fail, report
from taskbasket.cli.root import main
from taskbasket.validation import parse_duration


def _select(ids: tuple[str, ...], states: tuple[str, ...], queues: tuple[str, ...],
            names: tuple[str, ...]) -> dict[str, Any]:
    return {"task_id": list(ids) or None, "state": list(states) or None,
            "queue": split(queues), "name": split(names)}


@main.command()
@common_options
@click.argument("ids", nargs=-1)
@state_option
@queue_option
@name_option
@pass_context
@run_safely
def retry(ctx: Context, ids: tuple[str, ...], states: tuple[str, ...],
          queues: tuple[str, ...], names: tuple[str, ...]) -> None:
    """Run tasks again: the given ids, or every failed task of --queue/--name."""
    if not (ids or queues or names or states):
        fail("say which tasks: ids, or --queue/--name (failed ones), or --state")
    changed = ctx.basket().retry(**_select(ids, states, queues, names))
    report(ctx.as_json, "retried", changed)


@main.command()
@common_options
@click.argument("ids", nargs=-1)
@state_option
@queue_option
@name_option
@pass_context
@run_safely
def cancel(ctx: Context, ids: tuple[str, ...], states: tuple[str, ...],
           queues: tuple[str, ...], names: tuple[str, ...]) -> None:
    """Cancel tasks that have not finished: ids, or every match of the filters."""
    if not (ids or queues or names or states):
        fail("say which tasks: ids, or --queue/--name/--state")
    report(ctx.as_json, "cancelled", ctx.basket().cancel(**_select(ids, states, queues, names)))


@main.command()
@common_options
@click.argument("ids", nargs=-1, required=True)
@pass_context
@run_safely
def delete(ctx: Context, ids: tuple[str, ...]) -> None:
    """Delete tasks by id, whatever their state."""
    report(ctx.as_json, "deleted", ctx.basket().delete(list(ids)))


@main.command()
@common_options
@state_option
@queue_option
@name_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_context
@run_safely
def purge(ctx: Context, states: tuple[str, ...], queues: tuple[str, ...],
          names: tuple[str, ...], yes: bool) -> None:
    """Delete every task that matches the filters (all tasks without filters)."""
    basket = ctx.basket()
    selection = dict(state=list(states) or None, queue=split(queues), name=split(names))
    matching = basket.count(selection["state"], queue=selection["queue"],
                            name=selection["name"])
    if not yes:
        what = ", ".join(f"{k}={','.join(v)}" for k, v in selection.items() if v) or "ALL TASKS"
        if not sys.stdin.isatty():
            fail(f"purge would delete {matching} tasks ({what}); confirm with --yes")
        click.confirm(f"Delete {matching} tasks ({what}) from {basket.url}?", abort=True)
    report(ctx.as_json, "deleted", basket.purge(**selection))


@main.command()
@common_options
@click.option("--older-than", default="7d", show_default=True,
              help="Age of finished tasks to remove: 90s, 15m, 12h, 7d, 2w.")
@state_option
@pass_context
@run_safely
def clean(ctx: Context, older_than: str, states: tuple[str, ...]) -> None:
    """Delete finished tasks older than --older-than, in batches."""
    seconds = parse_duration(older_than)
    report(ctx.as_json, "cleaned", ctx.basket().clean(seconds, state=list(states) or None))
