"""Commands of flow control: ``queues`` (a table, or ``--json``), ``queue pause|resume
NAME`` and ``queue set NAME --concurrency N --rate-limit 10/s`` (``none`` lifts)."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from taskbasket.cli.context import Context, common_options, pass_context, run_safely
from taskbasket.cli.output import console, emit_json, plain, say
from taskbasket.cli.root import main
from taskbasket.errors import ConfigurationError
from taskbasket.task import State


def _limits(concurrency: int | None, rate_limit: str | None) -> str:
    parts = ([f"{concurrency} at once"] if concurrency is not None else []) + (
        [rate_limit] if rate_limit is not None else [])
    return ", ".join(parts) or "-"


@main.command()
@common_options
@pass_context
@run_safely
def queues(ctx: Context) -> None:
    """List the queues: paused or not, their limits, and their queued, running and
    failed tasks."""
    found = ctx.basket().queues()
    if ctx.as_json:
        emit_json([queue.as_dict() for queue in found])
        return
    if not found:
        say("no queue has tasks or settings")
        return
    table = Table(header_style="bold")
    table.add_column("queue", no_wrap=True)
    for column in ("paused", "limits", "queued", "running", "failed"):
        table.add_column(column)
    for q in found:
        table.add_row(plain(q.name), "yes" if q.paused else "no",
                      _limits(q.concurrency, q.rate_limit),
                      *(str(q.count(s)) for s in (State.QUEUED, State.RUNNING, State.FAILED)))
    console.print(table)


@main.group()
def queue() -> None:
    """Pause, resume or set the limits of a queue by name."""


def _action(verb: str, done: str) -> None:
    @queue.command(name=verb, help=f"{verb.capitalize()} the queue NAME (for every worker).")
    @common_options
    @click.argument("name")
    @pass_context
    @run_safely
    def command(ctx: Context, name: str) -> None:
        getattr(ctx.basket(), f"{verb}_queue")(name)
        if ctx.as_json:
            emit_json({"queue": name, done: True})
        else:
            say(f"queue {name}: {done}")


for _verb, _done in (("pause", "paused"), ("resume", "resumed")):
    _action(_verb, _done)


def _lifted(value: str | None) -> Any:
    """A limit as given: ``none`` lifts it (None)."""
    return None if value is not None and value.strip().lower() == "none" else value


@queue.command(name="set")
@common_options
@click.argument("name")
@click.option("--concurrency", default=None, metavar="N|none",
              help="At most N of the queue's tasks running at once (none: no limit).")
@click.option("--rate-limit", default=None, metavar="N/s|N/m|N/h|none",
              help="At most N starts a second, minute or hour (none: no limit).")
@pass_context
@run_safely
def set_limits(ctx: Context, name: str, concurrency: str | None,
               rate_limit: str | None) -> None:
    """Set queue NAME's limits across every worker; a limit not given stays."""
    changes: dict[str, Any] = {}
    if concurrency is not None:
        lifted = _lifted(concurrency)
        if lifted is not None:
            try:
                lifted = int(lifted)
            except ValueError:
                raise ConfigurationError(
                    f"--concurrency must be a whole number of at least 1, or none; got "
                    f"{concurrency!r}") from None
        changes["concurrency"] = lifted
    if rate_limit is not None:
        changes["rate_limit"] = _lifted(rate_limit)
    if not changes:
        raise ConfigurationError("give --concurrency and/or --rate-limit (none lifts one)")
    basket = ctx.basket()
    basket.configure_queue(name, **changes)
    info = next((q for q in basket.queues() if q.name == name), None)
    if ctx.as_json:
        emit_json(info.as_dict() if info else {"name": name, **changes})
    else:
        say(f"queue {name}: limits "
            f"{_limits(info.concurrency, info.rate_limit) if info else '-'}")


__all__ = ["queue", "queues"]
