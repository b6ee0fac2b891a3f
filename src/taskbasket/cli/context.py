"""What every command shares: the Basket it works on, its common options and filters."""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from taskbasket.basket import Basket
from taskbasket.cli.output import fail
from taskbasket.errors import TaskbasketError
from taskbasket.task import State

STATE_NAMES = [s.value for s in State]


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
    """The command's store: ``--url``, else the ``--app`` basket's URL, else what
    ``Basket()`` finds ($TASKBASKET_URL, then the default), as ``URL_PRECEDENCE`` says."""

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
                        help="Store URL (over the --app basket's and $TASKBASKET_URL).")(func)
    return func


def run_safely(func: Any) -> Any:
    """Turn taskbasket errors into one clear line and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TaskbasketError as exc:
            fail(str(exc))
        except (TypeError, ValueError) as exc:
            fail(str(exc))

    return wrapper


def split(values: Sequence[str]) -> list[str] | None:
    items = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return items or None


state_option = click.option("--state", "states", multiple=True,
                            type=click.Choice(STATE_NAMES), help="Filter by state (repeatable).")
queue_option = click.option("--queue", "queues", multiple=True,
                            help="Filter by queue (repeatable or comma-separated).")
name_option = click.option("--name", "names", multiple=True,
                           help="Filter by task name (repeatable or comma-separated).")
