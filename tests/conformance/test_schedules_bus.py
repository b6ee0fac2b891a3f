"""A message bus keeps no rows, so it cannot hold schedules: it says so, naming itself."""

from __future__ import annotations

import pytest

from taskbasket import Basket
from taskbasket.errors import UnsupportedOperationError


@pytest.mark.lacks("schedules")
def test_a_bus_refuses_schedules_naming_its_transport(store_url: str) -> None:
    basket = Basket(store_url)
    transport = type(basket.backend).transport_name  # type: ignore[attr-defined]
    try:
        basket.task(name="job")(lambda: None)
        with pytest.raises(UnsupportedOperationError,
                           match=r"cannot hold schedules.*relay") as refused:
            basket.schedule("tick", "job", every=60)
        assert str(refused.value).startswith(f"{transport} is a message bus")
        with pytest.raises(UnsupportedOperationError, match="cannot hold schedules"):
            basket.periodic(every=60)
    finally:
        basket.close()
