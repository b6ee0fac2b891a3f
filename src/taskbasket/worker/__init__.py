"""The worker: claim loop, executors, heartbeats, timeouts and graceful shutdown."""

from taskbasket.worker.worker import Worker

__all__ = ["Worker"]
