"""Transactional enqueue through real SQLAlchemy 2.x objects, on every SQL store: a
``Session`` and a ``Connection`` (pysqlite, psycopg, PyMySQL), and an ``AsyncSession``
and ``AsyncConnection`` on psycopg's async driver. A task enqueued on them exists if and
only if the application's transaction commits, together with the application's own rows.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from taskbasket import Basket, ConfigurationError
from tests.stores import factory


def _sqlalchemy_url(basket: Basket, store_name: str, asynchronous: bool = False) -> str:
    if not basket.backend.capabilities.transactional_enqueue:
        pytest.skip(f"{store_name} has no transactional enqueue (capabilities)")
    make = getattr(factory(store_name), "sqlalchemy_url", None)
    if make is None:
        pytest.skip(f"tests/stores/{store_name}.py has no sqlalchemy_url")
    try:
        url: str = make(basket.url, asynchronous)
    except ValueError as exc:
        pytest.skip(f"{store_name}: {exc}")
    return url


@pytest.fixture
def engine(basket: Basket, store_name: str) -> Iterator[Engine]:
    made = create_engine(_sqlalchemy_url(basket, store_name))
    basket.migrate()
    try:
        yield made
    finally:
        made.dispose()


@pytest.fixture
def orders(engine: Engine) -> Iterator[Table]:
    """An application table of this test's own, next to the store."""
    table = Table(f"tb_orders_{os.getpid()}_{os.urandom(3).hex()}", MetaData(),
                  Column("id", Integer, primary_key=True))
    table.create(engine)
    try:
        yield table
    finally:
        table.drop(engine)


def _job(basket: Basket) -> Any:
    @basket.task
    def job(n: int) -> None: ...

    return job


def _rows(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_session_commits_or_rolls_back_the_enqueue(basket: Basket, engine: Engine) -> None:
    job = _job(basket)
    with Session(engine) as session:
        gone = job.options(connection=session).enqueue(1)  # the session begins here
        assert basket.get(gone.id) is None  # not visible before commit
        session.rollback()
        session.execute(text("SELECT 1"))  # the session's transaction began first
        kept = job.options(connection=session).enqueue(2)
        assert basket.get(kept.id) is None
        session.commit()
    assert basket.get(gone.id) is None
    task = basket.get(kept.id)
    assert task is not None and task.args == [2]
    assert basket.count() == 1


def test_a_connection_commits_or_rolls_back_the_enqueue(basket: Basket, engine: Engine) -> None:
    job = _job(basket)
    with engine.connect() as conn:
        gone = job.options(connection=conn).enqueue(1)
        conn.rollback()
        kept = job.options(connection=conn).enqueue(2)
        conn.commit()
    with engine.begin() as conn:  # committed when the block ends
        also = job.options(connection=conn).enqueue(3)
    with pytest.raises(RuntimeError, match="boom"), engine.begin() as conn:
        failed = job.options(connection=conn).enqueue(4)
        raise RuntimeError("boom")  # rolled back
    assert basket.get(gone.id) is None and basket.get(failed.id) is None
    assert basket.get(kept.id) is not None and basket.get(also.id) is not None
    assert basket.count() == 2


def test_the_enqueue_and_the_applications_rows_commit_together(
    basket: Basket, engine: Engine, orders: Table
) -> None:
    job = _job(basket)
    for commit in (False, True):
        with Session(engine) as session:
            session.execute(orders.insert().values(id=1))
            ref = job.options(connection=session).enqueue_many([(1,), (2,), (3,)])
            keyed = job.options(connection=session, unique_key="order:1").enqueue(1)
            again = job.options(connection=session, unique_key="order:1").enqueue(1)
            assert (keyed.created, again.created, again.id) == (True, False, keyed.id)
            if commit:
                session.commit()
            else:
                session.rollback()
        assert _rows(engine, orders) == (1 if commit else 0)
        assert basket.count() == (4 if commit else 0)
        assert all((basket.get(r.id) is not None) == commit for r in [*ref, keyed])


def test_a_scoped_session_joins_its_current_session(basket: Basket, engine: Engine) -> None:
    job = _job(basket)
    scoped = scoped_session(sessionmaker(engine))
    try:
        gone = job.options(connection=scoped).enqueue(1)
        scoped.rollback()
        kept = job.options(connection=scoped).enqueue(2)
        scoped.commit()
    finally:
        scoped.remove()
    assert basket.get(gone.id) is None and basket.get(kept.id) is not None


def test_an_engine_is_refused_with_the_fix(basket: Basket, engine: Engine) -> None:
    job = _job(basket)
    with pytest.raises(ConfigurationError, match="Engine, which has no transaction"):
        job.options(connection=engine).enqueue(1)
    assert basket.count() == 0


def test_an_engine_of_another_database_is_refused(basket: Basket, store_name: str,
                                                  tmp_path: Any) -> None:
    _sqlalchemy_url(basket, store_name)  # (skips the stores without transactions)
    job = _job(basket)
    elsewhere = create_engine(f"sqlite+pysqlite:///{tmp_path / 'elsewhere.db'}")
    try:
        with Session(elsewhere) as session, pytest.raises(ConfigurationError):
            job.options(connection=session).enqueue(1)
    finally:
        elsewhere.dispose()
    assert basket.count() == 0


def test_an_async_session_commits_or_rolls_back_the_enqueue(basket: Basket,
                                                            store_name: str) -> None:
    url = _sqlalchemy_url(basket, store_name, asynchronous=True)
    job = _job(basket)
    basket.migrate()

    async def main() -> tuple[str, str, str]:
        engine = create_async_engine(url)
        try:
            async with AsyncSession(engine) as session:
                gone = await job.options(connection=session).enqueue_async(1)
                assert basket.get(gone.id) is None
                await session.rollback()
                await session.execute(text("SELECT 1"))
                kept = await job.options(connection=session).enqueue_async(2)
                await session.commit()
            async with engine.connect() as conn:
                also = await job.options(connection=conn).enqueue_async(3)
                await conn.commit()
            async with AsyncSession(engine) as session:
                with pytest.raises(ConfigurationError, match="enqueue_async"):
                    job.options(connection=session).enqueue(4)
        finally:
            await engine.dispose()
        return gone.id, kept.id, also.id

    gone, kept, also = asyncio.run(main())
    assert basket.get(gone) is None
    assert basket.get(kept) is not None and basket.get(also) is not None
    assert basket.count() == 2
