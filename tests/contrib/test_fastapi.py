"""The FastAPI example (examples/fastapi_app.py) through FastAPI's TestClient against the
real PostgreSQL: sync and async enqueue, transactional enqueue with SQLAlchemy, the
dashboard behind the app's auth dependency, and the worker beside the app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from examples.fastapi_app import build
from fastapi.testclient import TestClient

from taskbasket import State
from tests.helpers import wait_for
from tests.stores import available_store, new_store, unique_tag

ADMIN = {"Authorization": "Bearer admin-token"}


@pytest.fixture
def example(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    available_store("postgres")
    with new_store("postgres", unique_tag(request)) as url:
        schema = url.rsplit("schema=", 1)[1]
        app, basket, engine, orders = build(url, admin_token="admin-token", schema=schema,
                                            run_worker=request.node.get_closest_marker(
                                                "slow") is not None)
        basket.migrate()  # creates the schema, where the orders table goes too
        orders.metadata.create_all(engine)
        try:
            yield {"app": app, "basket": basket, "engine": engine}
        finally:
            basket.close()
            engine.dispose()


def test_sync_and_async_handlers_enqueue(example: dict[str, Any]) -> None:
    basket = example["basket"]
    with TestClient(example["app"]) as client:
        sync = client.post("/signup", params={"email": "a@b.c"})
        asynchronous = client.post("/signup-async", params={"email": "d@e.f"})
    assert sync.status_code == asynchronous.status_code == 200
    for reply, email in ((sync, "a@b.c"), (asynchronous, "d@e.f")):
        task = basket.get(reply.json()["task"])
        assert task is not None and task.args == [email] and task.queue == "emails"


def test_the_order_and_its_task_commit_together_or_not_at_all(example: dict[str, Any]) -> None:
    basket = example["basket"]
    with TestClient(example["app"]) as client:
        declined = client.post("/orders", params={"email": "x@y.z", "fail": True})
        assert declined.status_code == 402
        assert basket.get(declined.json()["detail"]["task"]) is None
        assert client.get("/orders/count").json() == {"orders": 0}
        placed = client.post("/orders", params={"email": "x@y.z"}).json()
        assert client.get("/orders/count").json() == {"orders": 1}
    task = basket.get(placed["task"])
    assert task is not None and task.args == [placed["order"]]


def test_the_dashboard_is_behind_the_apps_auth_dependency(example: dict[str, Any]) -> None:
    basket = example["basket"]
    ref = basket.enqueue("send_welcome", args=["a@b.c"])
    with TestClient(example["app"]) as client:
        assert client.get("/tasks/").status_code == 401
        assert client.get("/tasks/api/tasks").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert client.get("/tasks/api/tasks", headers=wrong).status_code == 401
        page = client.get("/tasks", headers=ADMIN)  # redirected to /tasks/
        assert page.status_code == 200 and "/tasks/static/" in page.text
        assert client.get("/tasks/static/dashboard.css", headers=ADMIN).status_code == 200
        listed = client.get("/tasks/api/tasks", headers=ADMIN).json()
        assert [t["id"] for t in listed["tasks"]] == [ref.id]
        task_page = client.get(f"/tasks/tasks/{ref.id}", headers=ADMIN)
        token = re.search(r'name="csrf_token" value="([^"]+)"', task_page.text)
        assert token is not None
        refused = client.post(f"/tasks/tasks/{ref.id}/cancel", data={"csrf_token": "x"},
                              headers=ADMIN)
        assert refused.status_code == 403
        done = client.post(f"/tasks/tasks/{ref.id}/cancel",
                           data={"csrf_token": token.group(1)}, headers=ADMIN)
        assert done.status_code == 200, done.text[:500]
    task = basket.get(ref.id)
    assert task is not None and task.state == State.CANCELLED


@pytest.mark.slow
def test_the_worker_beside_the_app_runs_what_it_enqueues(example: dict[str, Any]) -> None:
    basket = example["basket"]
    with TestClient(example["app"]) as client:  # the lifespan starts the worker
        placed = client.post("/orders", params={"email": "w@x.y"}).json()
        signup = client.post("/signup-async", params={"email": "w@x.y"}).json()
        for task_id in (placed["task"], signup["task"]):
            wait_for(lambda t=task_id: (task := basket.get(t)) is not None
                     and task.state == State.SUCCEEDED, 30, "the worker beside the app")
