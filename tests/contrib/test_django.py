"""The Django integration against real Django and the real servers: the project's own test
suite (tests/django_project/shop/tests.py) under Django's test runner, and the management
commands run as a user runs them, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskbasket import FINAL_STATES, Basket, State
from taskbasket.contrib.django.commands import without_django_options
from taskbasket.contrib.django.config import database_url, read_settings
from taskbasket.errors import ConfigurationError
from tests.helpers import ROOT, wait_for
from tests.stores import available_store, unique_tag

MANAGE = ROOT / "tests" / "django_project" / "manage.py"
ENGINES = {"sqlite": "sqlite", "postgres": "postgres", "mysql": "mysql"}  # store name: DB


# ---------------------------------------------------------------------- settings


def test_the_project_database_becomes_a_store_url() -> None:
    pg = {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", "USER": "app",
          "PASSWORD": "p@ss:word", "HOST": "db.internal", "PORT": 5432,
          "OPTIONS": {"sslmode": "require", "pool": True}}
    assert database_url("default", pg) == (
        "postgresql://app:p%40ss%3Aword@db.internal:5432/shop?sslmode=require")
    mysql = {"ENGINE": "django.db.backends.mysql", "NAME": "shop", "USER": "root"}
    assert database_url("default", mysql) == "mysql://root@localhost/shop"
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}
    assert database_url("default", sqlite) == "sqlite:///" + os.path.abspath("db.sqlite3")


def test_databases_taskbasket_cannot_use_are_refused_with_the_fix() -> None:
    memory = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    with pytest.raises(ConfigurationError, match=r"in-memory SQLite.*'TEST'.*'NAME'"):
        database_url("default", memory)
    with pytest.raises(ConfigurationError, match=r"oracle.*TASKBASKET = \{'URL'"):
        database_url("default", {"ENGINE": "django.db.backends.oracle", "NAME": "x"})


def test_the_setting_is_checked_with_did_you_mean() -> None:
    assert read_settings(None).database == "default"
    assert read_settings({"URL": "redis://r:6379/0"}).url == "redis://r:6379/0"
    with pytest.raises(ConfigurationError, match=r"unknown key 'ULR'\. Did you mean 'URL'\?"):
        read_settings({"ULR": "redis://r"})
    with pytest.raises(ConfigurationError, match="must be a dict"):
        read_settings("redis://r")


def test_manage_py_options_are_not_passed_to_the_taskbasket_command() -> None:
    assert without_django_options(
        ["--settings", "x.settings", "ls", "--pythonpath=/p", "--json"]) == ["ls", "--json"]


# ---------------------------------------------------------------------- real Django


@pytest.fixture(params=list(ENGINES))
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of the test project on one engine, with its own database."""
    engine = available_store(request.param)
    tag = "tbdj_" + unique_tag(request)[-20:]
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}:{ROOT}", TB_DJANGO_DB=engine,
               DJANGO_SETTINGS_MODULE="tests.django_project.settings")
    if engine == "sqlite":
        env.update(TB_DJANGO_NAME=str(tmp_path / "shop.sqlite3"),
                   TB_DJANGO_TEST_NAME=str(tmp_path / "test_shop.sqlite3"))
        yield env
        return
    env.update(TB_DJANGO_NAME=tag, TB_DJANGO_TEST_NAME=f"{tag}_test")
    create_database(engine, tag)
    try:
        yield env
    finally:
        drop_database(engine, tag)
        drop_database(engine, f"{tag}_test")  # if a failed run left it


def create_database(engine: str, name: str) -> None:
    if engine == "postgres":
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", user="root")
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        conn.close()


def drop_database(engine: str, name: str) -> None:
    if engine == "postgres":
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", user="root")
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def store_url(env: dict[str, str]) -> str:
    name = env["TB_DJANGO_NAME"]
    return {"sqlite": f"sqlite:///{name}",
            "postgres": f"postgresql://postgres@127.0.0.1:5432/{name}",
            "mysql": f"mysql://root@127.0.0.1:3306/{name}"}[env["TB_DJANGO_DB"]]


def manage(env: dict[str, str], *args: str, timeout: float = 120
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(MANAGE), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_djangos_test_runner_passes_the_projects_suite(project: dict[str, str]) -> None:
    run = manage(project, "test", "tests.django_project.shop", "--noinput", timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "OK" in run.stderr.splitlines()[-1] or "OK" in run.stderr, run.stderr


def test_migrate_enqueue_in_a_transaction_and_a_worker_from_manage_py(
    project: dict[str, str],
) -> None:
    migrated = manage(project, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    enqueue = manage(project, "shell", "-c", """
import json
from django.db import transaction
from tests.django_project.shop.models import Order
from tests.django_project.shop.tasks import send_confirmation
with transaction.atomic():
    order = Order.objects.create(email="a@b.c")
    kept = send_confirmation.enqueue(order.id)
try:
    with transaction.atomic():
        dropped = send_confirmation.enqueue(0)
        raise RuntimeError
except RuntimeError:
    pass
print(json.dumps([kept.id, dropped.id]))
""")
    assert enqueue.returncode == 0, enqueue.stderr
    kept, dropped = json.loads(enqueue.stdout.strip().splitlines()[-1])
    with Basket(store_url(project)) as store:  # manage.py migrate made the store's schema
        assert store.get(dropped) is None
        task = store.get(kept)
        assert task is not None and task.state == State.QUEUED
        worker = subprocess.Popen(
            [sys.executable, str(MANAGE), "taskbasket_worker", "--settings",
             "tests.django_project.settings", "--concurrency", "2", "--poll-interval", "0.1"],
            cwd=ROOT, env=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for(lambda: ((t := store.get(kept)) is not None and t.state in FINAL_STATES)
                     or worker.poll() is not None, 60, "the worker to run the task")
            task = store.get(kept)
            assert task is not None and task.state == State.SUCCEEDED, (
                task, worker.poll(), worker.stdout.read() if worker.poll() is not None else "")
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=60)
            assert worker.returncode == 0, output
            assert "worker" in output and "started" in output
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(10)
    listed = manage(project, "taskbasket", "--settings", "tests.django_project.settings",
                    "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(t["id"], t["state"]) for t in json.loads(listed.stdout)] == [(kept, "succeeded")]


def test_the_worker_command_documents_the_workers_options() -> None:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}:{ROOT}",
               DJANGO_SETTINGS_MODULE="tests.django_project.settings")
    run = manage(env, "taskbasket_worker", "--help")
    assert run.returncode == 0, run.stderr
    assert "Usage: manage.py taskbasket_worker" in run.stdout
    for option in ("--queues", "--concurrency", "--grace-period", "--health-port"):
        assert option in run.stdout
