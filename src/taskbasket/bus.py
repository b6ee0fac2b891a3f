"""Kept for compatibility: ``from taskbasket.bus import BusConsumer`` is the path docs/buses.md
shows. BusConsumer lives in :mod:`taskbasket.transports.consumer`; the bus adapters' shared
base is :mod:`taskbasket.backends.bus.base`.
"""

from __future__ import annotations

from taskbasket.transports.consumer import BusConsumer

__all__ = ["BusConsumer"]
