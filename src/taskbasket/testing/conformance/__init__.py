"""The seam's contract as tests a third-party backend can run: subclass
:class:`BackendContract`, say how to open a new, empty store of yours, and pytest (or
``unittest``) runs every promise the core relies on against it::

    from taskbasket.testing.conformance import BackendContract

    class TestMyBackend(BackendContract):
        def open_backend(self) -> Backend:
            return MyBackend(f"my://localhost/{uuid.uuid4().hex}")

A promise that needs what ``capabilities`` says the backend cannot do is skipped with a
reason naming the capability. taskbasket's own stores run this same class in its test
suite (``tests/conformance/test_contract.py``), beside the larger suite that drives
workers, crashes and chaos against them.
"""

from taskbasket.testing.conformance.contract import BackendContract
from taskbasket.testing.conformance.helpers import claim_one, new_task, wait_until

__all__ = ["BackendContract", "claim_one", "new_task", "wait_until"]
