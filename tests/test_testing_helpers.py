"""The helpers for users' tests (``taskbasket.testing``) import without pytest."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import PYTHONPATH


def test_the_testing_helpers_import_without_pytest() -> None:
    code = ("import sys; sys.modules['pytest'] = None  # import pytest now fails\n"
            "import taskbasket.testing.drain, taskbasket.worker\n"
            "assert 'pytest' not in {m.split('.')[0] for m in sys.modules if sys.modules[m]}")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=PYTHONPATH))
    assert done.returncode == 0, done.stderr
