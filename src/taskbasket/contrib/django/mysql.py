"""Django's MySQL backend on PyMySQL, the driver taskbasket's MySQL store joins.

Django's MySQL backend imports ``MySQLdb`` (mysqlclient). ``pymysql.install_as_MySQLdb()``
alone makes Django import PyMySQL's submodules a second time under ``MySQLdb.*``, which
replaces ``pymysql.err`` with a copy whose exception classes PyMySQL never raises, so code
that catches ``pymysql.err.ProgrammingError`` (taskbasket's MySQL store does) misses
them. ``use_pymysql`` installs PyMySQL as MySQLdb with each submodule under both names.
"""

from __future__ import annotations

import importlib
import sys

SUBMODULES = ("connections", "constants", "constants.CLIENT", "constants.ER",
              "constants.FIELD_TYPE", "constants.FLAG", "constants.SERVER_STATUS",
              "converters", "cursors", "err", "times")


def use_pymysql() -> None:
    """Make ``import MySQLdb`` (Django's MySQL backend) use PyMySQL; call it in settings.py
    (or manage.py, wsgi.py) before Django opens a database. Idempotent."""
    import pymysql

    for name in SUBMODULES:
        module = importlib.import_module(f"pymysql.{name}")
        sys.modules.setdefault(f"MySQLdb.{name}", module)
    pymysql.install_as_MySQLdb()
