"""An enqueue the store does not answer (a transient error mid-call: a cut connection, a
lock it could not get in time) raises BackendUnavailableError that says what happened
and what to do, not the driver's own exception; and stores nothing."""

from __future__ import annotations

import pytest

from taskbasket import Basket
from taskbasket.errors import BackendUnavailableError
from tests.stores import factory, skip_unless_required, unique_tag


def test_an_enqueue_postgres_could_not_take_in_time_says_so(
    request: pytest.FixtureRequest,
) -> None:
    store = factory("postgres")
    reason = store.unavailable()
    if reason:
        skip_unless_required("postgres", reason)
    url = store.create(unique_tag(request))
    basket = Basket(f"{url}&options=-clock_timeout%3D200")
    try:
        @basket.task
        def job(n: int) -> None:
            pass

        job.enqueue(0)  # the schema exists
        import psycopg

        schema = url.rsplit("schema=", 1)[1]
        with psycopg.connect(url.split("?")[0]) as holder:
            holder.execute(f'LOCK TABLE "{schema}".tasks IN ACCESS EXCLUSIVE MODE')
            with pytest.raises(BackendUnavailableError, match=r"did not answer an enqueue "
                               r"of 2 task\(s\) \(LockNotAvailable: .*all or none.*"
                               r"unique_key="):
                job.enqueue_many([(1,), (2,)])
        assert basket.count() == 1
    finally:
        basket.close()
        store.drop(url)
