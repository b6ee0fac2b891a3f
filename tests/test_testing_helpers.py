"""The helpers for users' tests (``taskbasket.testing``) import without pytest."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import PYTHONPATH


def test_the_testing_helpers_import_without_pytest() -> None:
    code = ("import sys; sys.modules['pytest'] = None  # import pytest now fails\n"
            "import taskbasket.testing.until_empty, taskbasket.worker\n"
            "assert 'pytest' not in {m.split('.')[0] for m in sys.modules if sys.modules[m]}")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=PYTHONPATH))
    assert done.returncode == 0, done.stderr


def test_drain_stays_the_function_after_a_worker_ran_until_empty() -> None:
    """``Worker.run_until_empty`` imports its implementation module; no module of the
    package may be named like a function it exports, or ``from taskbasket.testing import
    drain`` would give that module instead once it was imported."""
    from taskbasket import Basket
    from taskbasket.testing import drain as before

    with Basket("memory://") as basket:
        basket.task(name="noop")(lambda: None)
        basket.worker().run_until_empty(5)
    import taskbasket.testing
    from taskbasket.testing import drain

    assert drain is before and callable(drain)
    for name in taskbasket.testing.__all__:
        assert not isinstance(getattr(taskbasket.testing, name), type(taskbasket)), name
