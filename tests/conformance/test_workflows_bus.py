"""The transports keep no task rows to wait on: ``after=``, chains and groups raise
UnsupportedOperationError naming the transport, and nothing is sent."""

from __future__ import annotations

import pytest

from taskbasket import Basket, UnsupportedOperationError, chain


@pytest.mark.lacks("workflows")
def test_a_transport_refuses_workflows_naming_itself(store_url: str) -> None:
    with Basket(store_url) as basket:
        @basket.task
        def add(x: int, y: int = 0) -> int:
            return x + y

        scheme = store_url.split(":", 1)[0]
        with pytest.raises(UnsupportedOperationError, match=f"the {scheme} transport"):
            chain(add.s(1), add.s()).enqueue()
        with pytest.raises(UnsupportedOperationError, match=f"the {scheme} transport"):
            add.options(after=["01890000-0000-7000-8000-000000000000"]).enqueue(1)
        with pytest.raises(UnsupportedOperationError, match=f"the {scheme} transport"):
            basket.workflow("01890000-0000-7000-8000-000000000000")
