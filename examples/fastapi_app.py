"""A FastAPI app with taskbasket: enqueue from sync and async handlers, enqueue inside a
SQLAlchemy transaction on PostgreSQL, the dashboard under /tasks behind the app's own auth,
and a worker started beside it.

    TASKBASKET_URL=postgresql://postgres@127.0.0.1:5432/test ADMIN_TOKEN=secret \\
        uvicorn examples.fastapi_app:app            # RUN_WORKER=0 to run workers apart:
    taskbasket worker examples.fastapi_app:basket --concurrency 8
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at run
# time, and those of functions defined inside build() could not be resolved from strings.
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from taskbasket import Basket
from taskbasket.contrib.fastapi import dashboard_router


def build(store_url: str, *, admin_token: str, schema: str | None = None,
          run_worker: bool = True) -> tuple[FastAPI, Basket, Engine, Table]:
    """The app, its basket, the SQLAlchemy engine on the same PostgreSQL database, and the
    ``orders`` table (in ``schema``, else the search path's)."""
    basket = Basket(store_url)
    database = store_url.split("?", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(database)
    orders = Table("orders", MetaData(schema=schema), Column("id", Integer, primary_key=True),
                   Column("email", String(200), nullable=False))

    @basket.task(queue="emails")
    def send_welcome(email: str) -> None:
        """Sends the welcome mail (here: nothing)."""

    @basket.task(queue="emails")
    def send_receipt(order_id: int) -> None:
        """Mails the receipt of an order that committed."""

    def get_session() -> Iterator[Session]:
        with Session(engine) as session:
            yield session

    def require_admin(authorization: Annotated[str | None, Header()] = None) -> None:
        """The app's own auth: here a bearer token; in a real app, your user and roles."""
        expected = f"Bearer {admin_token}"
        if authorization is None or not secrets.compare_digest(authorization, expected):
            raise HTTPException(401, "admins only", {"WWW-Authenticate": "Bearer"})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = basket.worker(concurrency=4, poll_interval=0.2) if run_worker else None
        if worker is not None:
            worker.start()  # its own threads, beside the app's event loop
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            basket.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/signup")
    def signup(email: str) -> dict[str, Any]:
        """A sync handler (FastAPI runs it in a thread): enqueue blocks only that thread."""
        ref = send_welcome.enqueue(email)
        return {"task": ref.id}

    @app.post("/signup-async")
    async def signup_async(email: str) -> dict[str, Any]:
        """An async handler: enqueue_async never blocks the event loop."""
        ref = await send_welcome.enqueue_async(email)
        return {"task": ref.id}

    @app.post("/orders")
    def place_order(email: str, session: Annotated[Session, Depends(get_session)],
                    fail: bool = False) -> dict[str, Any]:
        """The order and its receipt task commit together, or neither does."""
        with session.begin():
            order_id = session.execute(orders.insert().values(email=email)
                                       .returning(orders.c.id)).scalar_one()
            ref = send_receipt.options(connection=session).enqueue(order_id)
            if fail:  # raising inside begin() rolls back: no order and no task
                raise HTTPException(402, {"error": "payment declined", "task": ref.id})
        return {"order": order_id, "task": ref.id}

    @app.get("/orders/count")
    def count_orders(session: Annotated[Session, Depends(get_session)]) -> dict[str, int]:
        return {"orders": session.execute(select(func.count()).select_from(orders)).scalar_one()}

    app.include_router(dashboard_router(basket, refresh_seconds=2.0), prefix="/tasks",
                       dependencies=[Depends(require_admin)])
    app.state.orders = orders
    return app, basket, engine, orders


app, basket, engine, orders = build(
    os.environ.get("TASKBASKET_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    admin_token=os.environ.get("ADMIN_TOKEN") or secrets.token_urlsafe(16),
    run_worker=os.environ.get("RUN_WORKER", "1") != "0",
)
