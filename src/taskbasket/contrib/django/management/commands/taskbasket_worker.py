"""``manage.py taskbasket_worker [OPTIONS]``: a worker for the project's tasks, with the
options of ``taskbasket worker`` (``--queues``, ``--concurrency``, ``--grace-period``...)."""

from __future__ import annotations

import click

from taskbasket.contrib.django.commands import ClickCommand


class Command(ClickCommand):
    help = "Run a taskbasket worker for the project's tasks (see its --help)."
    name = "taskbasket_worker"

    def command(self) -> click.Command:
        from taskbasket.cli.running import worker

        return worker

    def arguments(self, args: list[str]) -> list[str]:
        return args  # the app is the context's: the project's basket
