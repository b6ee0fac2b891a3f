"""Commands that change tasks: ``retry``, ``cancel``, ``delete``, ``purge``, ``clean``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection
from typing import Any

import click

from taskbasket.basket import Basket
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
from taskbasket.cli.output import emit_json, fail, report, warn
from taskbasket.cli.root import main
from taskbasket.errors import UnsupportedOperationError
from taskbasket.redaction import redact_url
from taskbasket.task import FINAL_STATES, RETRYABLE_STATES, State
from taskbasket.validation import parse_duration

CLI_CANCEL_REASON = "cancelled from the command line"


def _select(ids: tuple[str, ...], states: tuple[str, ...], queues: tuple[str, ...],
            names: tuple[str, ...]) -> dict[str, Any]:
    return {"task_id": list(ids) or None, "state": list(states) or None,
            "queue": split(queues), "name": split(names)}


class Refusals:
    """The ids an operator named that a command could not act on, and why; printed after
    the count, and the command then exits with status 1."""

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self.not_found: list[str] = []
        self.wrong_state: dict[str, str] = {}
        self.unchanged = 0

    def sort(self, basket: Basket, ids: tuple[str, ...], allowed: Collection[State],
             states: tuple[str, ...]) -> list[str]:
        """The ids that exist and are in a state the command acts on; the others noted."""
        if states:
            allowed = [s for s in allowed if s.value in states]
        try:
            found = {task_id: basket.get(task_id) for task_id in dict.fromkeys(ids)}
        except UnsupportedOperationError:  # a bus cannot look tasks up: count afterwards
            return list(ids)
        acting = []
        for task_id, task in found.items():
            if task is None:
                self.not_found.append(task_id)
            elif task.state not in allowed:
                self.wrong_state[task_id] = task.state.value
            else:
                acting.append(task_id)
        return acting

    def report(self, as_json: bool, count: int, asked: int) -> None:
        self.unchanged = max(0, asked - count)
        if as_json:
            extra: dict[str, Any] = {"not_found": self.not_found,
                                     "wrong_state": self.wrong_state,
                                     "unchanged": self.unchanged}
            emit_json({self.verb: count, **{k: v for k, v in extra.items() if v}})
        else:
            report(False, self.verb, count)
            for task_id in self.not_found:
                warn(f"not {self.verb}: no task with id {task_id}")
            for task_id, state in self.wrong_state.items():
                warn(f"not {self.verb}: task {task_id} is {state}")
            if self.unchanged:
                warn(f"not {self.verb}: {self.unchanged} of the given tasks (they changed "
                     "meanwhile, or a retry's unique key is held by another unfinished task)")
        if self.not_found or self.wrong_state or self.unchanged:
            sys.exit(1)


def _by_ids(ctx: Context, verb: str, allowed: Collection[State], ids: tuple[str, ...],
            states: tuple[str, ...], act: Callable[[list[str]], int]) -> None:
    """Act on the given ids; report those missing or in a state ``verb`` does not take."""
    refusals = Refusals(verb)
    acting = refusals.sort(ctx.basket(), ids, allowed, states)
    refusals.report(ctx.as_json, act(acting) if acting else 0, len(acting))


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
    """Run tasks again: the given ids, or every failed task of --queue/--name.

    An id that does not exist or whose task is not failed, cancelled, retrying or
    scheduled is reported, and the command exits with status 1.
    """
    if not (ids or queues or names or states):
        fail("say which tasks: ids, or --queue/--name (failed ones), or --state")
    selection = _select(ids, states, queues, names)
    if not ids:
        report(ctx.as_json, "retried", ctx.basket().retry(**selection))
        return
    _by_ids(ctx, "retried", RETRYABLE_STATES, ids, states,
            lambda acting: ctx.basket().retry(**{**selection, "task_id": acting}))


@main.command()
@common_options
@click.argument("ids", nargs=-1)
@state_option
@queue_option
@name_option
@click.option("--reason", default=CLI_CANCEL_REASON, show_default=True,
              help="Why: stored as each task's last error, and told to running handlers.")
@pass_context
@run_safely
def cancel(ctx: Context, ids: tuple[str, ...], states: tuple[str, ...],
           queues: tuple[str, ...], names: tuple[str, ...], reason: str) -> None:
    """Cancel tasks that have not finished: ids, or every match of the filters.

    A running task's attempt is stopped where it runs (its worker learns it within about
    a second). An id that does not exist or whose task has finished is reported, and the
    command exits with status 1.
    """
    if not (ids or queues or names or states):
        fail("say which tasks: ids, or --queue/--name/--state")
    selection = {**_select(ids, states, queues, names), "reason": reason}
    if not ids:
        report(ctx.as_json, "cancelled", ctx.basket().cancel(**selection))
        return
    open_states = [s for s in State if s not in FINAL_STATES]
    _by_ids(ctx, "cancelled", open_states, ids, states,
            lambda acting: ctx.basket().cancel(**{**selection, "task_id": acting}))


@main.command()
@common_options
@click.argument("ids", nargs=-1, required=True)
@pass_context
@run_safely
def delete(ctx: Context, ids: tuple[str, ...]) -> None:
    """Delete tasks by id, whatever their state; an id that does not exist is reported,
    and the command exits with status 1."""
    _by_ids(ctx, "deleted", list(State), ids, (), ctx.basket().delete)


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
        click.confirm(f"Delete {matching} tasks ({what}) from {redact_url(basket.url)}?",
                      abort=True)
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
