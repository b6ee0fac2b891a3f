"""The ``taskbasket`` command: run workers, inspect and steer the store.

One module per command group: ``running`` (worker, relay), ``inspecting`` (ls, count,
show), ``operating`` (retry, cancel, delete, purge, clean), ``store`` (migrate, enqueue)
``serving`` (dashboard, metrics), ``scheduling`` (schedules), ``observing``
(workers, explain) and ``workflows`` (workflow); ``root`` holds the group they attach to.
"""

from taskbasket.cli import (  # noqa: F401
    inspecting,
    observing,
    operating,
    queueing,
    running,
    scheduling,
    serving,
    store,
    workflows,
)
from taskbasket.cli.root import main

__all__ = ["main"]
