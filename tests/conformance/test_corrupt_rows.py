"""One corrupt stored row spoils itself only (issue #14 F7): listings show it as corrupt
(its id and the reason) beside the other tasks, the CLI and the dashboard too, and claims go
on, in either claim order (a claimed corrupt task is failed with the reason, not run, and
never blocks the rest); so do rescues (an expired lease of a corrupt row is failed with the
reason, and the other expired leases are rescued as usual).

Each row is corrupted with the store's own client, as another program would."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from taskbasket import Basket, State, StoreCorruptedError
from taskbasket.backends.base import LeasesExpiredParams
from taskbasket.maintenance.rescuer import Rescuer
from tests.conformance.test_enqueue import claim
from tests.helpers import ROOT, wait_for
from tests.stores import family

pytestmark = pytest.mark.needs("task_records")  # rows to corrupt: the stores

# (store, kind) -> what another program wrote; "claimable" rows are queued and would be
# claimed first, so today they break the claim of every batch that includes them;
# "running" rows are of a claimed task, whose count of attempts cannot be trusted
CORRUPTIONS: dict[str, dict[str, list[str]]] = {
    "sqlite": {
        "state": ["UPDATE taskbasket_tasks SET state = 'exploded' WHERE id = ?"],
        "claimable": ["UPDATE taskbasket_tasks SET priority = 'high' WHERE id = ?"],
        "time": ["UPDATE taskbasket_tasks SET created_at = 'garbage' WHERE id = ?"],
        "running": ["UPDATE taskbasket_tasks SET attempts = 'many' WHERE id = ?"],
    },
    "postgres": {
        "state": ["ALTER TABLE {s}.tasks DROP CONSTRAINT tasks_state_check",
                  "UPDATE {s}.tasks SET state = 'exploded' WHERE id = %s::uuid"],
        "claimable": ["UPDATE {s}.tasks SET created_at = '-infinity', run_at = '-infinity' "
                      "WHERE id = %s::uuid"],
        "time": ["UPDATE {s}.tasks SET timeout = 'NaN' WHERE id = %s::uuid"],
        "running": ["UPDATE {s}.tasks SET attempts = -1 WHERE id = %s::uuid"],
    },
    "mysql": {
        "state": ["UPDATE taskbasket_tasks SET state = 'exploded' "
                  "WHERE id = UNHEX(REPLACE(%s, '-', ''))"],
        "claimable": ["UPDATE taskbasket_tasks SET created_at = '0000-00-00 00:00:00', "
                      "run_at = '0000-00-00 00:00:00' WHERE id = UNHEX(REPLACE(%s, '-', ''))"],
        "time": ["UPDATE taskbasket_tasks SET max_attempts = 0 "
                 "WHERE id = UNHEX(REPLACE(%s, '-', ''))"],
        "running": ["UPDATE taskbasket_tasks SET max_attempts = 0 "
                    "WHERE id = UNHEX(REPLACE(%s, '-', ''))"],
    },
    "redis": {
        "state": ["state", "exploded"],
        "claimable": ["priority", "high"],
        "time": ["created_at", "garbage"],
        "running": ["attempts", "many"],
    },
    "memory": {  # a field of the record and what a stray program set it to
        "state": ["state", "exploded"],
        "claimable": ["priority", "high"],
        "time": ["created_at", "garbage"],
        "running": ["attempts", "many"],
    },
}


def corrupt(store_name: str, url: str, task_id: str, kind: str) -> None:
    """Change one task's row with the store's own client."""
    statements = CORRUPTIONS[family(store_name)][kind]
    if store_name == "memory":  # the record itself: the store has no other client
        _memory_store(url).corrupt(task_id, **{statements[0]: statements[1]})
    elif store_name == "sqlite":
        import sqlite3

        with sqlite3.connect(urlsplit(url).path[1:]) as conn:
            for statement in statements:
                conn.execute(statement, (task_id,))
    elif family(store_name) == "postgres":
        import psycopg

        from tests.stores.postgres import split_url

        base, schema = split_url(url)
        with psycopg.connect(base, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement.replace("{s}", f'"{schema}"').encode(),
                             [task_id] if "%s" in statement else [])
    elif store_name == "mysql":
        from tests.stores.mysql import connect

        conn = connect(url, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION sql_mode = ''")  # as a lax program's session would
                for statement in statements:
                    cur.execute(statement, (task_id,))
        finally:
            conn.close()
    else:
        import redis

        prefix = parse_qs(urlsplit(url).query)["prefix"][0]
        client = redis.Redis.from_url(url.split("?")[0])
        try:
            client.hset(f"{prefix}:t:{task_id}", statements[0], statements[1])
        finally:
            client.close()


def stored_state(store_name: str, url: str, task_id: str) -> tuple[str, str]:
    """(state, last_error) as the store holds them, read with its own client."""
    if store_name == "memory":
        record = _memory_store(url).tasks[task_id]
        row: Any = (record.state, record.last_error)
    elif store_name == "sqlite":
        import sqlite3

        with sqlite3.connect(urlsplit(url).path[1:]) as conn:
            row = conn.execute("SELECT state, last_error FROM taskbasket_tasks WHERE id = ?",
                               (task_id,)).fetchone()
    elif family(store_name) == "postgres":
        import psycopg

        from tests.stores.postgres import split_url

        base, schema = split_url(url)
        with psycopg.connect(base) as conn:
            row = conn.execute(f'SELECT state, last_error FROM "{schema}".tasks '
                               "WHERE id = %s::uuid", [task_id]).fetchone()
    elif store_name == "mysql":
        from tests.stores.mysql import connect

        conn = connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT state, last_error FROM taskbasket_tasks "
                            "WHERE id = UNHEX(REPLACE(%s, '-', ''))", (task_id,))
                row = cur.fetchone()
        finally:
            conn.close()
    else:
        import redis

        prefix = parse_qs(urlsplit(url).query)["prefix"][0]
        client = redis.Redis.from_url(url.split("?")[0], decode_responses=True)
        try:
            row = tuple(client.hmget(f"{prefix}:t:{task_id}", "state", "last_error"))
        finally:
            client.close()
    assert row is not None
    return str(row[0]), str(row[1] or "")


def _memory_store(url: str) -> Any:
    """The named memory store of ``url`` (every opening of the URL shares it)."""
    from taskbasket.backends.memory import MemoryBackend

    return MemoryBackend(url).store


def _basket(url: str) -> tuple[Basket, list[str]]:
    basket = Basket(url)
    ran: list[str] = []

    @basket.task
    def job(n: int) -> None:
        ran.append(str(n))

    return basket, ran


def _check_cli(url: str, bad: str, good: list[str]) -> None:
    """``taskbasket ls`` names the corrupt task and lists the others; --json lists those."""
    if url.startswith("memory://"):  # a store of this process: the CLI runs in it
        return _check_cli_here(url, bad, good)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "250"}
    listed = subprocess.run([sys.executable, "-m", "taskbasket", "--url", url, "ls"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert listed.returncode == 0, listed.stderr
    assert f"corrupt task {bad}" in listed.stderr and good[0] in listed.stdout
    as_json = subprocess.run([sys.executable, "-m", "taskbasket", "--url", url, "ls", "--json"],
                             capture_output=True, text=True, timeout=60, env=env)
    assert {t["id"] for t in json.loads(as_json.stdout)} == set(good)


def _check_cli_here(url: str, bad: str, good: list[str]) -> None:
    """``_check_cli`` with the command line run in this process (``CliRunner``)."""
    from click.testing import CliRunner

    from taskbasket.cli import main

    listed = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["--url", url, "ls"])
    assert listed.exit_code == 0, listed.output
    assert f"corrupt task {bad}" in listed.stderr and good[0] in listed.stdout
    as_json = CliRunner().invoke(main, ["--url", url, "ls", "--json"])
    assert {t["id"] for t in json.loads(as_json.stdout)} == set(good)


@pytest.mark.parametrize("kind", ["state", "claimable", "time"])
def test_a_corrupt_row_is_listed_as_corrupt_beside_the_others(
    store_name: str, store_url: str, kind: str
) -> None:
    basket, _ = _basket(store_url)
    try:
        first = basket.enqueue("job", args=[1]).id
        bad = basket.enqueue("job", args=[2]).id
        last = basket.enqueue("job", args=[3]).id
        corrupt(store_name, store_url, bad, kind)

        page = basket.list(limit=10)
        assert [t.id for t in page] == [last, first]
        assert [c.id for c in page.corrupt] == [bad] and page.corrupt[0].reason
        assert page.last_id == first
        with pytest.raises(StoreCorruptedError, match=bad):
            basket.get(bad)
        basket.stats()  # counts work (a state taskbasket does not know is left out)
        assert basket.count() == 3
        _check_cli(store_url, bad, [first, last])
    finally:
        basket.close()


@pytest.mark.parametrize("order", ["priority", "created"])
@pytest.mark.parametrize("kind", ["state", "claimable", "time"])
def test_claims_go_on_past_a_corrupt_task(
    store_name: str, store_url: str, kind: str, order: str
) -> None:
    basket, ran = _basket(store_url)
    try:
        basket.enqueue("job", args=[1])
        bad = basket.enqueue("job", args=[2]).id
        basket.enqueue("job", args=[3])
        corrupt(store_name, store_url, bad, kind)
        basket.worker(concurrency=3, visibility_timeout=5, order=order).run_until_empty(30)
        assert sorted(ran) == ["1", "3"]  # each good task ran once, the corrupt one never
        if kind != "state":  # a claimed corrupt task is failed with the reason
            state, error = stored_state(store_name, store_url, bad)
            assert state == "failed" and "corrupt" in error, (state, error)
    finally:
        basket.close()


def test_an_expired_lease_of_a_corrupt_row_is_failed_and_the_others_rescued(
    store_name: str, store_url: str
) -> None:
    basket, _ = _basket(store_url)
    try:
        good = basket.enqueue("job", args=[1]).id
        bad = basket.enqueue("job", args=[2]).id
        assert {t.id for t in claim(basket, limit=2, lease=0.05)} == {good, bad}  # then "died"
        corrupt(store_name, store_url, bad, "running")
        wait_for(lambda: len(basket.backend.leases_expired(LeasesExpiredParams())) == 2, 10,
                 "both leases to expire")
        report = Rescuer(basket.backend).run_once()
        assert [lease.id for lease in report.requeued] == [good]
        assert [lease.id for lease in report.failed] == [bad]
        state, error = stored_state(store_name, store_url, bad)
        assert state == "failed" and "corrupt" in error and "attempts" in error, error
        requeued = basket.get(good)
        assert requeued is not None and requeued.state is State.QUEUED
        assert basket.backend.leases_expired(LeasesExpiredParams()) == []
    finally:
        basket.close()


def test_the_dashboard_lists_a_corrupt_task(store_name: str, store_url: str) -> None:
    from starlette.testclient import TestClient

    from taskbasket.dashboard import create_app

    basket, _ = _basket(store_url)
    try:
        good = basket.enqueue("job", args=[1]).id
        bad = basket.enqueue("job", args=[2]).id
        corrupt(store_name, store_url, bad, "state")
        app: Any = create_app(basket, token="t0ken", sample_interval=0.05)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            page = client.get("/tasks", headers={"Authorization": "Bearer t0ken"})
            assert page.status_code == 200, page.text
            assert f'data-task="{good}"' in page.text and f'data-corrupt="{bad}"' in page.text
            assert client.get("/", headers={"Authorization": "Bearer t0ken"}).status_code == 200
    finally:
        basket.close()
