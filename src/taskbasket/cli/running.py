"""Commands that run until stopped and move tasks: ``worker`` and ``relay``."""

from __future__ import annotations

import logging
import os

import click

from taskbasket.cli.context import Context, common_options, pass_context, run_safely, split
from taskbasket.cli.output import console, emit_json, fail
from taskbasket.cli.root import main
from taskbasket.logs import setup_logging
from taskbasket.worker.health import WorkerHealth


@main.command()
@common_options
@click.argument("app", required=False)
@click.option("--queues", "-q", default=None, help="Comma-separated queues (default: all).")
@click.option("--concurrency", "-c", "--max", default=8, show_default=True,
              type=click.IntRange(1), help="Most tasks run at once (slots).")
@click.option("--prefetch", default=None, type=click.IntRange(0, 1000),
              help="Most tasks claimed beyond the free slots, waiting for one, while tasks "
              "run shorter than a claim's round trip (default: 4 x --concurrency, at "
              "most 64; 0: claim for free slots only).")
@click.option("--min", "min_concurrency", default=1, show_default=True,
              type=click.IntRange(0), help="Threads kept when idle; the pool grows to --max.")
@click.option("--idle-timeout", default=60.0, show_default=True, type=float,
              help="Seconds a thread idles before the pool shrinks.")
@click.option("--processes", default=None, type=click.IntRange(1),
              help="Child processes for executor='process' tasks (default: one per core).")
@click.option("--visibility-timeout", default=30.0, show_default=True, type=float,
              help="Lease length in seconds; heartbeats renew it every third of it.")
@click.option("--grace-period", default=30.0, show_default=True, type=float,
              help="Seconds running tasks get to finish on SIGTERM.")
@click.option("--poll-interval", default=1.0, show_default=True, type=float,
              help="Fallback poll for tasks coming due, in seconds.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--metrics-port", default=None, type=click.IntRange(0, 65535),
              help="Serve Prometheus metrics of this worker and the store on this port.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
@click.option("--health-port", default=None, type=click.IntRange(0, 65535),
              help="Serve /healthz and /readyz on this port (they are also beside /metrics "
              "on --metrics-port).")
@click.option("--health-host", default="127.0.0.1", show_default=True)
@click.option("--unhealthy-after", default=60.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="/healthz fails once the claim loop has not gone round, or every store "
              "call has failed, for this long.")
@click.option("--log-tasks", is_flag=True,
              help="Log every task start and success too (retries and failures always are).")
@click.option("--wait-for-store", default=0.0, show_default=True, type=click.FloatRange(0),
              metavar="SECONDS", help="At start, wait this long for a store that does not "
              "answer (0: exit with status 2 at once). A running worker always retries.")
@click.option("--order", default="priority", show_default=True,
              type=click.Choice(["priority", "created"]),
              help="Which due tasks to claim first: priority (then run_at, then enqueue "
                   "order) or created (enqueue order, whatever the priority).")
@pass_context
@run_safely
def worker(
    ctx: Context, app: str | None, queues: str | None, concurrency: int,
    prefetch: int | None, min_concurrency: int, idle_timeout: float, processes: int | None,
    visibility_timeout: float, grace_period: float, poll_interval: float, log_level: str,
    metrics_port: int | None, metrics_host: str, health_port: int | None, health_host: str,
    unhealthy_after: float, log_tasks: bool, wait_for_store: float,
    order: str,
) -> None:
    """Run a worker for APP (module:basket) until SIGTERM or SIGINT."""
    if app:
        ctx.app = app
    setup_logging(log_level)  # every line with control characters visible, secrets hidden
    if not log_tasks:  # quiet on the hot path: starts and successes only with --log-tasks
        logging.getLogger("taskbasket.tasks").setLevel(
            max(logging.WARNING, logging.getLevelName(log_level.upper())))
    basket = ctx.basket(need_app=True)
    queue_list = split([queues]) if queues else None
    worker = basket.worker(
        queues=queue_list, concurrency=concurrency,
        min_concurrency=min(min_concurrency, concurrency), idle_timeout=idle_timeout,
        processes=processes, visibility_timeout=visibility_timeout,
        grace_period=grace_period, poll_interval=poll_interval, wait_for_store=wait_for_store,
        order=order, prefetch=prefetch,
    )
    worker.health = WorkerHealth(stall_after=unhealthy_after, store_down_after=unhealthy_after)
    if metrics_port is not None:
        from taskbasket.metrics import serve_worker_metrics

        server, _ = serve_worker_metrics(worker, metrics_port, metrics_host)
        logging.getLogger("taskbasket.worker").info(
            "metrics on http://%s:%d/metrics (and /healthz, /readyz)", metrics_host,
            server.server_port)
    if health_port is not None:
        from taskbasket.health import serve_health

        server, _ = serve_health(worker, health_port, health_host)
        logging.getLogger("taskbasket.worker").info(
            "health on http://%s:%d/healthz and /readyz", health_host, server.server_port)
    worker.run()


@main.command()
@common_options
@click.option("--from", "source", default=None,
              help="The store your application enqueues into (default: --url or "
                   "$TASKBASKET_URL).")
@click.option("--to", "target", required=True, envvar="TASKBASKET_RELAY_TO",
              help="The bus to publish to: amqp://... or nats://... (or $TASKBASKET_RELAY_TO).")
@click.option("--queues", "-q", default=None,
              help="Comma-separated queues of the store to relay (default: all).")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10000),
              help="Tasks claimed and published per step.")
@click.option("--lease-seconds", default=30.0, show_default=True,
              type=click.FloatRange(0.1), help="How long a claim holds a task; a dead "
              "relay's tasks are published again after this.")
@click.option("--poll-interval", default=1.0, show_default=True,
              type=click.FloatRange(0.01), help="Fallback poll when the store cannot notify.")
@click.option("--once", is_flag=True, help="Relay what is due now, print the counts, exit.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@pass_context
@run_safely
def relay(
    ctx: Context, source: str | None, target: str, queues: str | None, batch_size: int,
    lease_seconds: float, poll_interval: float, once: bool, log_level: str,
) -> None:
    """Move tasks from a store (your outbox) onto a message bus, each at least once.

    Enqueue inside your database transaction (connection=...) into the store; the relay
    publishes what committed, with the task id as the message id, and marks it succeeded
    in the store once the bus confirmed it. Runs until SIGTERM or SIGINT unless --once.
    """
    from taskbasket.relay import Relay

    setup_logging(log_level)
    source = source or ctx.url or os.environ.get("TASKBASKET_URL")
    if not source:
        fail("relay needs the store to read: pass --from URL (or --url, $TASKBASKET_URL)")
    runner = Relay(source, target, queues=split([queues]) if queues else None,
                   batch_size=batch_size, lease_seconds=lease_seconds,
                   poll_interval=poll_interval)
    try:
        if not once:
            runner.run()
            return
        runner.run_until_empty(timeout=3600.0)
        if ctx.as_json:
            emit_json(runner.totals)
        else:
            console.print(
                "relayed [green]{published}[/] task(s); [red]{failed}[/] refused by the bus, "
                "[yellow]{deferred}[/] deferred".format(**runner.totals), highlight=False)
    finally:
        runner.close()
