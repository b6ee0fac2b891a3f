"""Where the bus code lives: the documented import paths still work, the store table names
modules that exist, and the bus modules import a broker driver only when one is used.

The layering itself (transports never import backends, no cycle between backends and bus)
is checked by the import-linter contracts in pyproject.toml (``make lint``).
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from taskbasket.backends import BACKENDS


def test_documented_bus_consumer_path_is_the_transports_consumer() -> None:
    from taskbasket.bus import BusConsumer  # the path docs/buses.md shows
    from taskbasket.transports.consumer import BusConsumer as home

    assert BusConsumer is home


@pytest.mark.parametrize("scheme", sorted(BACKENDS))
def test_every_scheme_names_a_backend_class(scheme: str) -> None:
    module_name, class_name, _ = BACKENDS[scheme]
    backend_class = getattr(importlib.import_module(module_name), class_name)
    assert backend_class.__name__ == class_name


def test_bus_modules_import_no_driver_until_used() -> None:
    code = (
        "import sys\n"
        "import taskbasket.bus, taskbasket.backends.bus.base, taskbasket.backends.file\n"
        "import taskbasket.transports.layout, taskbasket.transports.consumer\n"
        "print(sorted(m for m in ('pika', 'nats') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == "[]"
