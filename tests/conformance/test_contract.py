"""The importable seam contract (``taskbasket.testing.conformance.BackendContract``), run
here against every backend of the suite exactly as a third-party backend would run it."""

from __future__ import annotations

from typing import Any

from taskbasket.backends import open_backend
from taskbasket.backends.base import Backend
from taskbasket.testing.conformance import BackendContract
from tests.stores import BACKENDS, available_store, factory, unique_tag


def _contract_for(name: str) -> type[BackendContract]:
    class Contract(BackendContract):
        def open_backend(self) -> Backend:
            available_store(name)
            self._url = factory(name).create(unique_tag())
            return open_backend(self._url)

        def drop_backend(self, backend: Backend) -> None:
            factory(name).drop(self._url)

        def setup_method(self, method: Any = None) -> None:
            super().setup_method(method)

    Contract.__name__ = Contract.__qualname__ = f"TestContract_{name}"
    return Contract


for _name in BACKENDS:
    globals()[f"TestContract_{_name}"] = _contract_for(_name)
