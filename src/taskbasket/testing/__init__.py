"""Helpers for tests and scripts that use taskbasket; importable without pytest."""

from taskbasket.testing.clock import FakeClock

__all__ = ["FakeClock"]
