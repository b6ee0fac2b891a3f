"""Running the ``taskbasket`` command inside ``manage.py``, on the project's basket."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import click
from django.core.management.base import BaseCommand, CommandError, CommandParser

APP = "taskbasket.contrib.django:basket"
DJANGO_OPTIONS = ("--settings", "--pythonpath")


def without_django_options(argv: Sequence[str]) -> list[str]:
    """``argv`` less ``--settings``/``--pythonpath``, which ``manage.py`` has applied."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in DJANGO_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(f"{o}=" for o in DJANGO_OPTIONS)):
            kept.append(arg)
    return kept


class _PassThroughParser(CommandParser):
    """Hands every argument to click, which parses and documents them (for
    ``call_command``; ``manage.py`` skips argparse altogether)."""

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:
        parsed = super().parse_args([], namespace)
        parsed.args = list(args or [])
        return parsed


class ClickCommand(BaseCommand):
    """A management command that runs a ``taskbasket`` click command on the project's
    basket; ``--help`` is that command's own."""

    name = "taskbasket"

    def command(self) -> click.Command:
        from taskbasket.cli import main

        return main

    def arguments(self, args: list[str]) -> list[str]:
        return ["--app", APP, *args]

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _PassThroughParser
        return parser

    def run_from_argv(self, argv: list[str]) -> None:
        prog = f"{os.path.basename(argv[0])} {argv[1]}"
        self.command().main(self.arguments(without_django_options(argv[2:])),
                            prog_name=prog, obj=self.context())

    def handle(self, *args: str, **options: Any) -> None:
        try:
            self.command().main(self.arguments(list(args)), prog_name=f"manage.py {self.name}",
                                standalone_mode=False, obj=self.context())
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise CommandError(f"taskbasket exited with status {exc.code}",
                                   returncode=exc.code if isinstance(exc.code, int) else 1
                                   ) from exc

    @staticmethod
    def context() -> Any:
        from taskbasket.cli.context import Context

        return Context(None, APP, False)
