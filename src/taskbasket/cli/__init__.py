"""The ``taskbasket`` command: run workers, inspect and steer the store.

One module per command group: ``running`` (worker, relay), ``inspecting`` (ls, count,
show), ``operating`` (retry, cancel, delete, purge, clean), ``store`` (migrate, enqueue)
and ``serving`` (dashboard, metrics); ``root`` holds the group they attach to.
"""

from taskbasket.cli import inspecting, operating, running, scheduling, serving, store  # noqa: F401
from taskbasket.cli.root import main

__all__ = ["main"]
