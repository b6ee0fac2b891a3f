"""A backend without flow control (a message bus, a file transport) refuses pause and
limits with an UnsupportedOperationError that names it."""

from __future__ import annotations

import pytest

from taskbasket import Basket
from taskbasket.errors import UnsupportedOperationError


@pytest.mark.lacks("flow_control")
def test_a_bus_refuses_pause_and_limits_naming_itself(basket: Basket) -> None:
    transport = getattr(basket.backend, "transport_name", type(basket.backend).__name__)
    for call in (lambda: basket.pause_queue("q"), lambda: basket.resume_queue("q"),
                 lambda: basket.configure_queue("q", concurrency=1)):
        with pytest.raises(UnsupportedOperationError, match=transport.split()[-1]):
            call()
