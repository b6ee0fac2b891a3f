"""PostgreSQL behind a transaction pooler (issue #25): the ``pooler`` and ``listen_url``
options, and a PgBouncer of the test's own in ``pool_mode = transaction`` in front of the
shared server: without the option psycopg's prepared statements break (and the error
says which option fixes it); with it nothing is prepared on any server connection, and a
worker without ``listen_url`` polls and says so once. (The whole conformance suite runs
through PgBouncer as ``postgres-pgbouncer`` and ``postgres-pgbouncer-listen``.)"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from taskbasket import Basket, ConfigurationError
from taskbasket.backends.base import PollingListener
from taskbasket.backends.postgres.listener import PostgresListener
from taskbasket.backends.postgres.settings import read_settings
from tests.helpers import wait_for
from tests.servers.pgbouncer import PrivatePgBouncer
from tests.stores import available_store, skip_unless_required, unique_tag
from tests.stores.postgres import BASE_URL
from tests.test_worker_startup import Worker

POOLED = "postgresql://u:pw@h:6432/db?pooler=transaction"
DIRECT = "postgresql://u:hunter2@db-host:5432/db?sslmode=disable"


def test_pooler_transaction_turns_prepared_statements_off() -> None:
    assert read_settings(POOLED, {}).connect_kwargs["prepare_threshold"] is None
    assert "prepare_threshold" not in read_settings("postgresql://h/db", {}).connect_kwargs
    keyword = read_settings("postgresql://h/db", {"pooler": "transaction"})
    assert keyword.transaction_pooler and not keyword.can_listen
    assert read_settings("postgresql://h/db?pooler=session", {}).can_listen


def test_listen_url_is_decoded_and_keeps_its_own_libpq_parameters() -> None:
    settings = read_settings(f"{POOLED}&listen_url={quote(DIRECT, safe='')}", {})
    assert settings.can_listen
    conninfo, kwargs = settings.listen_target()
    assert conninfo == DIRECT
    assert kwargs["prepare_threshold"] is None and kwargs["autocommit"] is True
    assert "listen_url" not in settings.conninfo and "6432" in settings.conninfo


@pytest.mark.parametrize(("url", "match"), [
    ("postgresql://h/db?pooler=transactions", r"pooler='transactions' is not one of "
                                              r"none, session, transaction"),
    ("postgresql://h/db?pooler=transaction&listen_url=redis%3A%2F%2Fh",
     r"listen_url=.* is not a postgresql:// URL: give the server's direct address"),
    ("postgresql://h/db?listen_url=postgresql%3A%2F%2Fh%2Fdb%3Fschema%3Dx",
     "is not valid"),
    ("postgresql://h/db?listen_ur=x", r"did you mean 'listen_url'"),
])
def test_bad_pooler_options_are_refused(url: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        read_settings(url, {})


def test_the_direct_password_is_never_shown() -> None:
    url = f"{POOLED}&listen_url={quote(DIRECT, safe='')}"
    with Basket(url) as basket:
        assert "hunter2" not in repr(basket) and "hunter2" not in repr(basket.backend)


# ---------------------------------------------------------------- through PgBouncer


@pytest.fixture
def bouncer() -> Iterator[PrivatePgBouncer]:
    """A PgBouncer of this test's own (3 server connections) before the shared server."""
    available_store("postgres")
    missing = PrivatePgBouncer.missing()
    if missing:
        skip_unless_required("postgres", missing)
    # not under tmp_path: as root, PgBouncer runs as postgres, who may not enter it
    folder = Path(tempfile.mkdtemp(prefix="tb-pgbouncer-"))
    try:
        with PrivatePgBouncer(folder, BASE_URL, pool_size=3) as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def schema(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"tb_{unique_tag(request)}"[:60]
    yield name
    with psycopg.connect(BASE_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _database() -> str:
    from urllib.parse import urlsplit

    return urlsplit(BASE_URL).path.lstrip("/")


def _workload(basket: Basket) -> None:
    """The issue's reproduction: 50 single enqueues and a batch of 1,000, then claims,
    finishes and inspection."""
    for number in range(50):
        basket.enqueue("job", {"n": number})
    basket.enqueue_many("job", [{"n": number} for number in range(1000)])
    assert basket.count() == 1050
    assert len(basket.list(limit=10)) == 10


def test_without_the_option_the_prepared_statements_error_names_it(
        bouncer: PrivatePgBouncer, schema: str) -> None:
    url = f"{bouncer.url(_database())}?schema={schema}&pool_min_size=2"
    with Basket(url) as basket, pytest.raises(
            ConfigurationError, match=r"add \?pooler=transaction to the URL"):
        for number in range(200):  # two client connections share one server's
            basket.enqueue("job", {"n": number})
    assert sum(bouncer.prepared_statements().values()) > 0  # what the check would see


def test_with_pooler_transaction_nothing_is_prepared_on_the_server(
        bouncer: PrivatePgBouncer, schema: str) -> None:
    with Basket(f"{bouncer.url(_database())}?schema={schema}&pooler=transaction") as basket:
        _workload(basket)
    prepared = bouncer.prepared_statements()
    assert prepared == {_database(): 0}


def test_a_listener_behind_the_pooler_polls_and_says_so_once(
        bouncer: PrivatePgBouncer, schema: str, caplog: pytest.LogCaptureFixture) -> None:
    url = f"{bouncer.url(_database())}?schema={schema}&pooler=transaction"
    caplog.set_level(logging.WARNING, "taskbasket.backends.postgres")
    with Basket(url) as basket:
        first, second = basket.backend.listener(None), basket.backend.listener(["q"])
        assert isinstance(first, PollingListener) and isinstance(second, PollingListener)
        first.close()
        second.close()
    said = [r.getMessage() for r in caplog.records if "listen_url" in r.getMessage()]
    assert len(said) == 1, said
    with Basket(f"{url}&listen_url={quote(BASE_URL, safe='')}") as basket:
        listener = basket.backend.listener(None)
        try:
            assert isinstance(listener, PostgresListener)
            basket.enqueue("job", {})
            assert wait_for(lambda: listener.wait(0.5), 10, "the NOTIFY through LISTEN")
        finally:
            listener.close()


@pytest.mark.slow
@pytest.mark.parametrize("listen", [False, True], ids=["polling", "listen_url"])
def test_a_worker_behind_pgbouncer_runs_tasks_and_warns_once_without_listen_url(
        bouncer: PrivatePgBouncer, schema: str, tmp_path: Path, listen: bool) -> None:
    (tmp_path / "startapp.py").write_text(
        "from taskbasket import Basket\nbasket = Basket()\n\n"
        "@basket.task\ndef send_email(to: str) -> None: ...\n")
    url = f"{bouncer.url(_database())}?schema={schema}&pooler=transaction"
    if listen:
        url += f"&listen_url={quote(BASE_URL, safe='')}"
    worker = Worker(tmp_path, "--url", url, "--poll-interval", "0.5")
    try:
        worker.wait_for_log("started:")
        with Basket(url) as basket:
            refs = [basket.enqueue("send_email", [f"{n}@b.c"]) for n in range(3)]
            wait_for(lambda: all(basket.get(r.id).state == "succeeded"  # type: ignore[union-attr]
                                 for r in refs), 30, "the tasks to run")
    finally:
        code = worker.stop()
    log = worker.log()
    assert code == 0, log
    warnings = [line for line in log.splitlines() if "LISTEN cannot pass the pooler" in line]
    assert len(warnings) == (0 if listen else 1), log
    assert all("WARNING" in line and "add listen_url=" in line for line in warnings), log
    assert sum(bouncer.prepared_statements().values()) == 0
