"""Commands that write the store's schema or a task: ``migrate`` and ``enqueue``."""

from __future__ import annotations

import json
from typing import Any

import click

from taskbasket.cli.context import Context, common_options, pass_context, run_safely
from taskbasket.cli.output import emit_json, fail, say
from taskbasket.cli.root import main
from taskbasket.redaction import redact_url
from taskbasket.validation import parse_duration


@main.command()
@common_options
@pass_context
@run_safely
def migrate(ctx: Context) -> None:
    """Create or upgrade the store's schema."""
    basket = ctx.basket()
    basket.migrate()
    if ctx.as_json:
        emit_json({"migrated": True, "url": redact_url(basket.url)})
    else:
        say(("schema is up to date", "green"), f" ({redact_url(basket.url)})")


@main.command()
@common_options
@click.argument("name")
@click.option("--args", "args_json", default="[]", help="Positional arguments as JSON list.")
@click.option("--kwargs", "kwargs_json", default="{}", help="Keyword arguments as JSON object.")
@click.option("--queue", default=None)
@click.option("--priority", default=None, type=int)
@click.option("--delay", default=None, help="Delay: 30s, 5m, 1h ...")
@click.option("--unique-key", default=None)
@pass_context
@run_safely
def enqueue(ctx: Context, name: str, args_json: str, kwargs_json: str, queue: str | None,
            priority: int | None, delay: str | None, unique_key: str | None) -> None:
    """Enqueue task NAME with JSON arguments."""
    try:
        args = json.loads(args_json)
        kwargs = json.loads(kwargs_json)
    except json.JSONDecodeError as exc:
        fail(f"--args/--kwargs must be JSON: {exc}")
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        fail("--args must be a JSON list and --kwargs a JSON object")
    options: dict[str, Any] = {"queue": queue, "priority": priority, "unique_key": unique_key}
    if delay is not None:
        options["delay"] = parse_duration(delay)
    basket = ctx.basket()
    ref = basket.enqueue(name, args, kwargs, **{k: v for k, v in options.items() if v is not None})
    if getattr(basket.backend, "writes_stdout", False):  # stdout:// carries the task itself
        click.echo(ref.id, err=True)
    elif ctx.as_json:
        emit_json({"id": ref.id, "created": ref.created})
    else:
        click.echo(ref.id)
