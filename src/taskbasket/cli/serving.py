"""Commands that serve HTTP: the ``dashboard`` and Prometheus ``metrics``."""

from __future__ import annotations

import click

from taskbasket.cli.context import Context, common_options, pass_context, run_safely
from taskbasket.cli.output import err_console, fail, plain
from taskbasket.cli.root import main
from taskbasket.logs import setup_logging
from taskbasket.redaction import redact_url


@main.command()
@common_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback needs --token or --basic-auth.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar="TASKBASKET_DASHBOARD_TOKEN", default=None,
              help="Require this token (Authorization: Bearer, or ?token= once); "
              "or $TASKBASKET_DASHBOARD_TOKEN.")
@click.option("--basic-auth", envvar="TASKBASKET_DASHBOARD_BASIC_AUTH", default=None,
              metavar="USER:PASS", help="Require HTTP basic auth; "
              "or $TASKBASKET_DASHBOARD_BASIC_AUTH.")
@pass_context
@run_safely
def dashboard(ctx: Context, host: str, port: int, token: str | None,
              basic_auth: str | None) -> None:
    """Serve the web dashboard: overview, tasks, retry/cancel/delete, purge."""
    from taskbasket.dashboard import serve

    username = password = None
    if basic_auth is not None:
        username, sep, password = basic_auth.partition(":")
        if not sep or not username or not password:
            fail("--basic-auth must be USER:PASS, both non-empty")
    setup_logging("WARNING")  # the sampler's warnings, visible and redacted
    basket = ctx.basket()
    err_console.print(plain(f"dashboard of {redact_url(basket.url)} on http://{host}:{port}/"),
                      highlight=False)
    serve(basket, host=host, port=port, token=token, username=username, password=password)


@main.command()
@common_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=9100, show_default=True, type=click.IntRange(0, 65535))
@click.option("--cache-seconds", default=5.0, show_default=True, type=click.FloatRange(0),
              help="Read the store at most this often, however often Prometheus scrapes.")
@pass_context
@run_safely
def metrics(ctx: Context, host: str, port: int, cache_seconds: float) -> None:
    """Serve Prometheus metrics of the store: taskbasket_tasks{queue,state}."""
    import threading

    from taskbasket.metrics import serve_metrics

    setup_logging("WARNING")  # unreadable-store warnings, redacted
    basket = ctx.basket()
    try:
        server, _ = serve_metrics(basket, port, host, cache_seconds=cache_seconds)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc}")
    err_console.print(
        plain(f"metrics of {redact_url(basket.url)} on "
              f"http://{host}:{server.server_port}/metrics"),
        highlight=False)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
