"""The ``taskbasket`` command: run workers, inspect and steer the store."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NoReturn

import click
from rich.markup import escape
from rich.table import Table

from taskbasket.basket import Basket
from taskbasket.errors import TaskbasketError
from taskbasket.logs import setup_logging
from taskbasket.redaction import redact_text, redact_url
from taskbasket.task import State, Task
from taskbasket.terminal import SafeConsole
from taskbasket.validation import parse_duration

console = SafeConsole()  # shows control characters from the store visibly
err_console = SafeConsole(stderr=True)
STATE_NAMES = [s.value for s in State]
STATE_COLOURS = {
    State.QUEUED: "cyan", State.SCHEDULED: "blue", State.RUNNING: "yellow",
    State.RETRYING: "magenta", State.SUCCEEDED: "green", State.FAILED: "red",
    State.CANCELLED: "dim",
}


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {redact_text(message)}", highlight=False)
    sys.exit(code)


def load_app(spec: str) -> Basket:
    """The Basket named by ``module:attribute`` (the current folder is importable)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name:
        fail(f"--app {spec!r}: write it as module:attribute, e.g. myapp.tasks:basket")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        fail(f"cannot import {module_name!r} for --app {spec!r}: {exc}")
    candidates = [attribute] if attribute else ["basket", "app"]
    for name in candidates:
        value = getattr(module, name, None)
        if isinstance(value, Basket):
            return value
    found = [n for n, v in vars(module).items() if isinstance(v, Basket)]
    hint = f"; it has {', '.join(found)}" if found else ""
    fail(f"{module_name} has no Basket named {' or '.join(candidates)}{hint}")


class Context:
    def __init__(self, url: str | None, app: str | None, as_json: bool) -> None:
        self.url = url
        self.app = app
        self.as_json = as_json
        self._basket: Basket | None = None

    def basket(self, need_app: bool = False) -> Basket:
        if self._basket is None:
            if self.app:
                basket = load_app(self.app)
                if self.url:
                    basket.use_url(self.url)
            elif need_app:
                fail("this command needs your tasks: pass --app module:basket")
            else:
                basket = Basket(self.url)
            self._basket = basket
        return self._basket


pass_context = click.make_pass_decorator(Context)


def _setter(attribute: str) -> Any:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value:
            setattr(ctx.ensure_object(Context), attribute, value)

    return callback


def common_options(func: Any) -> Any:
    """--url, --app and --json, accepted after the command name as well as before it."""
    func = click.option("--json", "as_json", is_flag=True, expose_value=False,
                        callback=_setter("as_json"), help="Print JSON for scripts.")(func)
    func = click.option("--app", "app_option", expose_value=False, callback=_setter("app"),
                        help="module:basket of your tasks.")(func)
    func = click.option("--url", expose_value=False, callback=_setter("url"),
                        help="Store URL (overrides $TASKBASKET_URL).")(func)
    return func


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, default=_json_default, indent=2, ensure_ascii=False))


def task_dict(task: Task) -> dict[str, Any]:
    return task.as_dict()


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _state(state: State) -> str:
    return f"[{STATE_COLOURS[state]}]{state.value}[/]"


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             invoke_without_command=True)
@click.option("--url", envvar="TASKBASKET_URL", help="Store URL (or $TASKBASKET_URL); "
              "default sqlite:///taskbasket.db.")
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


def run_safely(func: Any) -> Any:
    """Turn taskbasket errors into one clear line and exit status 2."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TaskbasketError as exc:
            fail(str(exc))
        except (TypeError, ValueError) as exc:
            fail(str(exc))

    return wrapper


def _split(values: Sequence[str]) -> list[str] | None:
    items = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return items or None


state_option = click.option("--state", "states", multiple=True,
                            type=click.Choice(STATE_NAMES), help="Filter by state (repeatable).")
queue_option = click.option("--queue", "queues", multiple=True,
                            help="Filter by queue (repeatable or comma-separated).")
name_option = click.option("--name", "names", multiple=True,
                           help="Filter by task name (repeatable or comma-separated).")


@main.command()
@common_options
@click.argument("app", required=False)
@click.option("--queues", "-q", default=None, help="Comma-separated queues (default: all).")
@click.option("--concurrency", "-c", "--max", default=8, show_default=True,
              type=click.IntRange(1), help="Most tasks run at once (slots).")
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
@click.option("--log-tasks", is_flag=True,
              help="Log every task start and success too (retries and failures always are).")
@pass_context
@run_safely
def worker(
    ctx: Context, app: str | None, queues: str | None, concurrency: int,
    min_concurrency: int, idle_timeout: float, processes: int | None,
    visibility_timeout: float, grace_period: float, poll_interval: float, log_level: str,
    metrics_port: int | None, metrics_host: str, log_tasks: bool,
) -> None:
    """Run a worker for APP (module:basket) until SIGTERM or SIGINT."""
    if app:
        ctx.app = app
    setup_logging(log_level)
    if not log_tasks:  # quiet on the hot path: starts and successes only with --log-tasks
        logging.getLogger("taskbasket.tasks").setLevel(
            max(logging.WARNING, logging.getLevelName(log_level.upper())))
    basket = ctx.basket(need_app=True)
    queue_list = _split([queues]) if queues else None
    worker = basket.worker(
        queues=queue_list, concurrency=concurrency,
        min_concurrency=min(min_concurrency, concurrency), idle_timeout=idle_timeout,
        processes=processes, visibility_timeout=visibility_timeout,
        grace_period=grace_period, poll_interval=poll_interval,
    )
    if metrics_port is not None:
        from taskbasket.metrics import serve_worker_metrics

        server, _ = serve_worker_metrics(worker, metrics_port, metrics_host)
        logging.getLogger("taskbasket.worker").info(
            "metrics on http://%s:%d/metrics", metrics_host, server.server_port)
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
    source = source or ctx.url
    if not source:
        fail("relay needs the store to read: pass --from URL (or --url, $TASKBASKET_URL)")
    runner = Relay(source, target, queues=_split([queues]) if queues else None,
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
    tasks = basket.list(list(states) or None, queue=_split(queues), name=_split(names),
                        limit=limit, before=before)
    for bad in tasks.corrupt:  # shown apart, so one corrupt row never hides the others
        err_console.print(f"[red]corrupt task[/] {escape(bad.id)}: {escape(bad.reason)}",
                          highlight=False)
    if ctx.as_json:
        emit_json([task_dict(t) for t in tasks])
        return
    known = set(basket.registry)
    table = Table(show_lines=False, header_style="bold")
    for column in ("id", "name", "queue", "state", "prio", "attempts", "created", "run at",
                   "last error"):
        table.add_column(column, overflow="fold")
    for t in tasks:
        name = t.name if not known or t.name in known else f"{t.name} [red](unknown)[/]"
        error = (t.last_error or "").strip().splitlines()[-1:] or [""]
        table.add_row(t.id, name, t.queue, _state(t.state), str(t.priority),
                      f"{t.attempts}/{t.max_attempts}", _when(t.created_at), _when(t.run_at),
                      error[0][:60])
    console.print(table)
    if len(tasks) + len(tasks.corrupt) == limit:
        console.print(f"[dim]more: taskbasket ls --before {tasks.last_id}[/]")


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
        total = basket.count(list(states) or None, queue=_split(queues), name=_split(names))
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
        table.add_column(_state(state), justify="right")
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
        emit_json(task_dict(task))
        return
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in task_dict(task).items():
        if key in ("last_error", "payload_error") or value is None:
            continue
        if key == "state":
            shown = _state(task.state)
        elif isinstance(value, datetime):
            shown = _when(value)
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


def _select(ids: tuple[str, ...], states: tuple[str, ...], queues: tuple[str, ...],
            names: tuple[str, ...]) -> dict[str, Any]:
    return {"task_id": list(ids) or None, "state": list(states) or None,
            "queue": _split(queues), "name": _split(names)}


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
    _report(ctx, "retried", changed)


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
    _report(ctx, "cancelled", ctx.basket().cancel(**_select(ids, states, queues, names)))


@main.command()
@common_options
@click.argument("ids", nargs=-1, required=True)
@pass_context
@run_safely
def delete(ctx: Context, ids: tuple[str, ...]) -> None:
    """Delete tasks by id, whatever their state."""
    _report(ctx, "deleted", ctx.basket().delete(list(ids)))


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
    selection = dict(state=list(states) or None, queue=_split(queues), name=_split(names))
    matching = basket.count(selection["state"], queue=selection["queue"],
                            name=selection["name"])
    if not yes:
        what = ", ".join(f"{k}={','.join(v)}" for k, v in selection.items() if v) or "ALL TASKS"
        if not sys.stdin.isatty():
            fail(f"purge would delete {matching} tasks ({what}); confirm with --yes")
        click.confirm(f"Delete {matching} tasks ({what}) from {redact_url(basket.url)}?",
                      abort=True)
    _report(ctx, "deleted", basket.purge(**selection))


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
    _report(ctx, "cleaned", ctx.basket().clean(seconds, state=list(states) or None))


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
        console.print(f"[green]schema is up to date[/] ({redact_url(basket.url)})",
                      highlight=False)


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
    err_console.print(f"dashboard of {redact_url(basket.url)} on http://{host}:{port}/",
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
    err_console.print(f"metrics of {redact_url(basket.url)} on "
                      f"http://{host}:{server.server_port}/metrics", highlight=False)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()


def _report(ctx: Context, verb: str, count: int) -> None:
    if ctx.as_json:
        emit_json({verb: count})
    else:
        console.print(f"{verb} {count} task{'s' if count != 1 else ''}")


if __name__ == "__main__":
    main()
