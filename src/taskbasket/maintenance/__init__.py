"""Maintenance: the services that keep a store healthy, run by one elected leader.

- :class:`Rescuer`: expired leases (a worker died) are requeued, or failed on the last
  attempt; the decision is :func:`taskbasket.rules.rescue_decision`.
- :class:`Stager`: due scheduled and retrying tasks become queued, a bounded batch a run.
- :class:`Pruner`: final tasks older than the retention are deleted, in batches.

:class:`Maintenance` runs them on a thread of every worker and relay, but only while that
process leads the store (:class:`Elector`, over the store's optional leader lock).
"""

from taskbasket.maintenance.leader import LEADER_NAME, Elector
from taskbasket.maintenance.pruner import DEFAULT_RETENTION, Pruner, RetentionArg, parse_retention
from taskbasket.maintenance.rescuer import Rescuer, RescueReport
from taskbasket.maintenance.runner import Maintenance, MaintenanceReport
from taskbasket.maintenance.service import Service
from taskbasket.maintenance.stager import Stager

__all__ = [
    "DEFAULT_RETENTION", "LEADER_NAME", "Elector", "Maintenance", "MaintenanceReport",
    "Pruner", "RescueReport", "Rescuer", "RetentionArg", "Service", "Stager",
    "parse_retention",
]
