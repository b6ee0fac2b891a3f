"""The leader-lock promises of ``BackendContract`` (a mixin, apart so each file keeps
one job): one holder per name at a time, renewal by the holder, resignation."""

from __future__ import annotations

import unittest
from typing import TYPE_CHECKING

from taskbasket.backends.base import LeaderLock, LeaderParams

if TYPE_CHECKING:
    from taskbasket.backends.base import Backend


class LeaderContract:
    backend: Backend

    def _lock(self) -> LeaderLock:
        if not self.backend.capabilities.leader_lock or not isinstance(
                self.backend, LeaderLock):
            raise unittest.SkipTest(
                f"{type(self.backend).__name__} lacks leader_lock (Capabilities)")
        return self.backend

    def test_one_leader_per_name_renews_and_resigns(self) -> None:
        lock = self._lock()
        mine, theirs = LeaderParams("contract", "a", 30.0), LeaderParams("contract", "b", 30.0)
        assert lock.leader_try(mine) is True
        assert lock.leader_try(mine) is True, "the holder renews its term"
        assert lock.leader_try(theirs) is False
        assert lock.leader_try(LeaderParams("other", "b", 30.0)) is True, "names are apart"
        lock.leader_resign(mine)
        assert lock.leader_try(theirs) is True

    def test_an_expired_term_passes_to_another(self) -> None:
        from taskbasket.testing.conformance.helpers import wait_until

        lock = self._lock()
        assert lock.leader_try(LeaderParams("contract", "a", 0.2)) is True
        wait_until(lambda: lock.leader_try(LeaderParams("contract", "b", 30.0)), 10,
                   "the term to pass to another holder")
        assert lock.leader_try(LeaderParams("contract", "a", 30.0)) is False


__all__ = ["LeaderContract"]
