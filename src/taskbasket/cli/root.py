"""The ``taskbasket`` group: the options every command shares, given before the command."""

from __future__ import annotations

import click

from taskbasket.backends import URL_PRECEDENCE
from taskbasket.cli.context import Context


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             invoke_without_command=True, epilog=URL_PRECEDENCE)
@click.option("--url", help="Store URL; without it, the --app basket's, else "
              "$TASKBASKET_URL, else sqlite:///taskbasket.db.")
@click.option("--app", "app", envvar="TASKBASKET_APP",
              help="module:basket of your tasks (or $TASKBASKET_APP).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.version_option(package_name="taskbasket")
@click.pass_context
def main(ctx: click.Context, url: str | None, app: str | None, as_json: bool) -> None:
    """Durable background tasks: run workers, inspect and steer the store."""
    ctx.obj = Context(url, app, as_json)
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
