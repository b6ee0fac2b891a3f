"""Schedules: tasks run on a cron expression or an interval, kept in the store.

- ``spec``: what a schedule is (and the checks on what a caller passes), the ``Schedule``
  record;
- ``slots``: its slots, on the wall clock of its time zone (DST included);
- ``scheduler``: the service on every worker that fires due slots, once each, through
  the store's atomic ``schedules_fire``;
- ``operations``: writing, finding and triggering schedules for the client and workers.
"""

from taskbasket.schedules.scheduler import Scheduler, SchedulerReport
from taskbasket.schedules.spec import CatchUp, Overlap, Schedule, ScheduleOptions, ScheduleSpec

__all__ = ["CatchUp", "Overlap", "Schedule", "ScheduleOptions", "ScheduleSpec", "Scheduler",
           "SchedulerReport"]
