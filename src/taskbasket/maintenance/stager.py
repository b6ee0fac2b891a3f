"""The stager: scheduled and retrying tasks that came due become queued."""

from __future__ import annotations

from taskbasket.backends.base import Backend, PromoteParams
from taskbasket.maintenance.service import Service

PROMOTE_BATCH = 1000


class Stager(Service):
    """Promotes up to ``batch`` due tasks per run, so the inspector and the counts show
    them as ready. Claims take due tasks whether or not they were promoted, so a stager
    that falls behind delays nothing; a bounded batch keeps each statement short."""

    name = "stager"

    def __init__(self, backend: Backend, *, interval: float = 1.0,
                 batch: int = PROMOTE_BATCH, jitter: float = 0.1) -> None:
        super().__init__(interval, jitter=jitter)
        self.backend = backend
        self.batch = batch

    def run_once(self) -> int:
        """Promote one batch; how many tasks became queued."""
        return self.backend.tasks_promote(PromoteParams(self.batch))
