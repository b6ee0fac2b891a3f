"""The worker registry on every store: a running worker appears with what it serves, its
busy slots follow its heartbeats, it shows as gone once unseen for three heartbeat
intervals (the store's clock moved forward, or a real SIGKILL), and a graceful stop
deletes its row; a bus refuses, naming itself."""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from taskbasket import Basket, UnsupportedOperationError, WorkerInfo
from taskbasket.backends.base import WorkersBeatParams, WorkersListParams, WorkersRemoveParams
from taskbasket.workers import GONE_AFTER_BEATS, list_workers
from tests.helpers import Effects, WorkerProcess, wait_for

VT = 1.5
"""The workers' visibility timeout: they beat every half second."""


def only_worker(basket: Basket) -> WorkerInfo:
    found = wait_for(lambda: basket.workers(), 10, "the worker's row")
    assert len(found) == 1, found
    worker: WorkerInfo = found[0]
    return worker


@pytest.mark.needs("worker_registry")
def test_a_running_worker_appears_with_what_it_serves(basket: Basket) -> None:
    @basket.task(queue="emails")
    def send() -> None: ...

    @basket.task(queue="emails")
    def bounce() -> None: ...

    worker = basket.worker(queues=["emails"], concurrency=3, visibility_timeout=VT)
    with worker:
        info = only_worker(basket)
    assert (info.id, info.host, info.pid) == (worker.worker_id, socket.gethostname(),
                                              os.getpid())
    assert (info.queues, info.tasks, info.concurrency, info.busy) == (
        ["emails"], ["bounce", "send"], 3, 0)
    assert info.heartbeat_interval == pytest.approx(VT / 3)
    assert info.started_at <= info.last_seen_at
    assert (info.gone, info.state) == (False, "live")
    assert info.as_dict()["state"] == "live"


@pytest.mark.needs("worker_registry")
def test_busy_counts_follow_the_heartbeats_and_a_graceful_stop_removes_the_row(
        basket: Basket) -> None:
    release = threading.Event()

    @basket.task
    def hold() -> None:
        release.wait(20)

    for _ in range(2):
        hold.enqueue()
    worker = basket.worker(concurrency=4, visibility_timeout=VT)
    with worker:
        first = only_worker(basket)
        wait_for(lambda: basket.workers()[0].busy == 2, 10, "two busy slots in the row")
        later = basket.workers()[0]
        assert later.last_seen_at > first.last_seen_at
        assert later.started_at == first.started_at
        release.set()
        wait_for(lambda: basket.workers()[0].busy == 0, 10, "no busy slot in the row")
    assert basket.workers() == []


@pytest.mark.needs("worker_registry")
def test_a_worker_unseen_for_three_heartbeat_intervals_is_gone(basket: Basket) -> None:
    @basket.task
    def job() -> None: ...

    with basket.worker(visibility_timeout=VT):
        info = only_worker(basket)
        backend = basket.backend
        interval = info.heartbeat_interval
        # judged against the row's own last beat, so a beat delayed by a loaded machine
        # cannot make the worker look gone "soon"; a beat between the reads only moves
        # last_seen_at on by an interval, far less than the margin of "later"
        soon = info.last_seen_at + timedelta(seconds=interval)
        later = info.last_seen_at + timedelta(seconds=GONE_AFTER_BEATS * interval + 5)
        assert not list_workers(backend, soon)[0].gone
        gone = list_workers(backend, later)[0]
        assert (gone.gone, gone.state) == (True, "gone")


@pytest.mark.needs("worker_registry")
def test_rows_are_upserted_listed_by_id_and_removed(basket: Basket) -> None:
    backend = basket.backend
    for worker_id in ("b", "a", "c"):
        backend.workers_beat(WorkersBeatParams(worker_id, '{"host": "h1"}'))
    first = {row.id: row for row in backend.workers_list(WorkersListParams())}
    wait_for(lambda: backend.now() > first["a"].last_seen_at, 5, "the store's clock to move")
    backend.workers_beat(WorkersBeatParams("a", '{"host": "h2"}'))
    rows = backend.workers_list(WorkersListParams())
    assert [row.id for row in rows] == ["a", "b", "c"]
    assert rows[0].info == '{"host": "h2"}' and rows[0].started_at == first["a"].started_at
    assert rows[0].last_seen_at > first["a"].last_seen_at
    assert backend.workers_remove(WorkersRemoveParams(ids=["b", "nobody"])) == 1
    cutoff = rows[0].last_seen_at  # "c" was last seen before "a"'s second beat
    assert backend.workers_remove(WorkersRemoveParams(unseen_before=cutoff)) == 1
    assert [row.id for row in backend.workers_list(WorkersListParams())] == ["a"]
    assert backend.workers_remove(WorkersRemoveParams()) == 0


@pytest.mark.needs("worker_registry")
def test_a_row_of_unreadable_info_lists_as_a_worker_serving_nothing(basket: Basket) -> None:
    basket.backend.workers_beat(WorkersBeatParams("odd", "not json"))
    (info,) = basket.workers()
    assert (info.id, info.tasks, info.host) == ("odd", [], "")


@pytest.mark.slow
@pytest.mark.needs("worker_registry", "shared_between_processes")
def test_a_sigkilled_worker_shows_as_gone_and_its_row_stays(
        basket: Basket, store_url: str, tmp_path: Path) -> None:
    effects = Effects(tmp_path / "effects.db")
    proc = WorkerProcess(store_url, effects.path, "--visibility-timeout", str(VT),
                         "--concurrency", "2")
    try:
        proc.wait_started()
        info = proc.wait_for(lambda: next((w for w in basket.workers() if w.pid == proc.pid),
                                          None), 20, "the worker process's row")
        assert info.tasks and not info.gone and info.concurrency == 2
    finally:
        proc.stop()  # SIGKILL
    wait_for(lambda: [w.gone for w in basket.workers()] == [True], 20,
             "the killed worker to show as gone")


@pytest.mark.lacks("worker_registry")
def test_a_transport_without_a_registry_refuses_naming_itself(basket: Basket) -> None:
    name = getattr(basket.backend, "transport_name", type(basket.backend).__name__)
    with pytest.raises(UnsupportedOperationError, match=name.split()[-1]):
        basket.workers()
    with pytest.raises(UnsupportedOperationError, match=name.split()[-1]):
        basket.explain("01a233ae-c851-7000-bc39-129a15a0cd82")

