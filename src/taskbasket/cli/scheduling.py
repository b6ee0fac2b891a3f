"""Commands of schedules: ``schedules`` (a table, or ``--json``) and
``schedule pause|resume|trigger|delete NAME``."""

from __future__ import annotations

import click
from rich.table import Table

from taskbasket.cli.context import Context, common_options, pass_context, run_safely
from taskbasket.cli.output import console, emit_json, plain, say, when
from taskbasket.cli.root import main


@main.command()
@common_options
@pass_context
@run_safely
def schedules(ctx: Context) -> None:
    """List the stored schedules: when each fires next, and what it ran last."""
    found = ctx.basket().schedules()
    if ctx.as_json:
        emit_json([schedule.as_dict() for schedule in found])
        return
    if not found:
        say("no schedules are stored")
        return
    table = Table(header_style="bold")
    table.add_column("name", no_wrap=True)
    for column in ("task", "when", "timezone", "overlap", "paused", "next run", "last run",
                   "skipped"):
        table.add_column(column)
    for s in found:
        table.add_row(
            plain(s.name), plain(s.task), plain(s.spec.describe()), plain(s.timezone),
            s.overlap, "yes" if s.paused else "no", when(s.next_run_at), when(s.last_run_at),
            str(s.skipped))
    console.print(table)


@main.group()
def schedule() -> None:
    """Pause, resume, trigger or delete a stored schedule by name."""


def _action(verb: str, done: str) -> None:
    @schedule.command(name=verb, help=f"{verb.capitalize()} the schedule NAME.")
    @common_options
    @click.argument("name")
    @pass_context
    @run_safely
    def command(ctx: Context, name: str) -> None:
        basket = ctx.basket()
        if verb == "trigger":
            ref = basket.trigger_schedule(name)
            result: dict[str, object] = {"schedule": name, "triggered": ref.id}
        else:
            getattr(basket, f"{verb}_schedule")(name)
            result = {"schedule": name, done: True}
        if ctx.as_json:
            emit_json(result)
        else:
            say(f"schedule {name}: {done}" + (f" (task {result['triggered']})"
                                              if verb == "trigger" else ""))


for _verb, _done in (("pause", "paused"), ("resume", "resumed"), ("trigger", "triggered"),
                     ("delete", "deleted")):
    _action(_verb, _done)

__all__ = ["schedule", "schedules"]
