"""The ``workflow`` command: a workflow's tasks as a tree of dependencies."""

from __future__ import annotations

import json

import click
from rich.text import Text
from rich.tree import Tree

from taskbasket.cli.context import Context, common_options, pass_context, run_safely
from taskbasket.cli.output import console, emit_json, fail, plain, state_cell
from taskbasket.cli.root import main
from taskbasket.task import State, Task
from taskbasket.workflows import Workflow


def task_label(task: Task) -> Text:
    """``succeeded  parse  0193…  -> 42``: a task's state, name, id and outcome."""
    label = Text.assemble(state_cell(task.state), "  ", plain(task.name, "bold"), "  ",
                          plain(task.id, "dim"))
    if task.state is State.SUCCEEDED and task.result is not None:
        label.append_text(plain(f"  -> {json.dumps(task.result, ensure_ascii=False)}"))
    elif task.error_line:
        label.append_text(plain(f"  {task.error_line}", "red"))
    return label


def workflow_tree(workflow: Workflow) -> Tree:
    """The tree of ``workflow``: each task under the tasks it depends on, the first time
    it is reached in full and after that as a reference (a fan-in has several parents)."""
    tree = Tree(Text.assemble(("workflow ", "bold"), plain(workflow.id), "  ",
                              state_cell(workflow.state), f"  {len(workflow)} task(s)"))
    ids = {task.id for task in workflow}
    shown: set[str] = set()
    roots = [t for t in workflow if not any(d in ids for d in workflow.dependencies[t.id])]

    def add(branch: Tree, task: Task) -> None:
        if task.id in shown:
            branch.add(Text.assemble(("↑ ", "dim"), plain(task.name), " ",
                                     plain(task.id, "dim"), (" (shown above)", "dim")))
            return
        shown.add(task.id)
        node = branch.add(task_label(task))
        for child in workflow.dependents(task.id):
            add(node, workflow.task(child))

    for root in roots:
        add(tree, root)
    return tree


@main.command("workflow")
@common_options
@click.argument("workflow_id")
@pass_context
@run_safely
def show_workflow(ctx: Context, workflow_id: str) -> None:
    """Show a workflow (a chain, group, or tasks joined by after=) as a tree."""
    try:
        workflow = ctx.basket().workflow(workflow_id)
    except LookupError as exc:
        fail(str(exc).strip("'\""), code=1)
    if ctx.as_json:
        emit_json({"id": workflow.id, "state": workflow.state.value, "tasks": [
            {**{k: v for k, v in task.as_dict().items() if k not in ("args", "kwargs")},
             "depends_on": workflow.dependencies[task.id]} for task in workflow]})
        return
    console.print(workflow_tree(workflow), highlight=False)
