"""taskbasket: durable background tasks on the database you already have."""

from importlib import metadata as _metadata

from taskbasket.backends.base import Backend, Capabilities
from taskbasket.basket import Basket
from taskbasket.canvas import Chain, Group, GroupRef, Signature, chain, group
from taskbasket.context import TaskContext, current_task
from taskbasket.definition import BoundTask, TaskDefinition
from taskbasket.errors import (
    BackendUnavailableError,
    ConfigurationError,
    DurableWait,
    Fail,
    ReceiveTimeout,
    ResultTimeout,
    Retry,
    Snooze,
    StepDeterminismError,
    StepNotRecorded,
    StoreCorruptedError,
    TaskbasketError,
    TaskCancelled,
    TaskFailed,
    TaskStateError,
    TaskTimeout,
    UnknownScheduleError,
    UnknownTaskError,
    UnsupportedOperationError,
    WorkflowError,
)
from taskbasket.events import Event, EventKind
from taskbasket.explanation import Explanation
from taskbasket.history import AttemptEntry, EditEntry, HistoryEntry
from taskbasket.pool import Pool, PoolStatus
from taskbasket.retry import BackoffPolicy, ConstantBackoff, ExponentialBackoff
from taskbasket.schedules import Schedule
from taskbasket.task import FINAL_STATES, CorruptTask, State, Task, TaskList, TaskProgress, TaskRef
from taskbasket.worker import Worker
from taskbasket.workers import WorkerInfo
from taskbasket.workflows import Workflow

try:
    __version__ = _metadata.version("taskbasket")
except _metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "FINAL_STATES",
    "AttemptEntry",
    "Backend",
    "BackendUnavailableError",
    "BackoffPolicy",
    "Basket",
    "BoundTask",
    "Capabilities",
    "Chain",
    "ConfigurationError",
    "ConstantBackoff",
    "CorruptTask",
    "DurableWait",
    "EditEntry",
    "Event",
    "EventKind",
    "Explanation",
    "ExponentialBackoff",
    "Fail",
    "Group",
    "GroupRef",
    "HistoryEntry",
    "Pool",
    "PoolStatus",
    "ReceiveTimeout",
    "ResultTimeout",
    "Retry",
    "Schedule",
    "Signature",
    "Snooze",
    "State",
    "StepDeterminismError",
    "StepNotRecorded",
    "StoreCorruptedError",
    "Task",
    "TaskCancelled",
    "TaskContext",
    "TaskDefinition",
    "TaskFailed",
    "TaskList",
    "TaskProgress",
    "TaskRef",
    "TaskStateError",
    "TaskTimeout",
    "TaskbasketError",
    "UnknownScheduleError",
    "UnknownTaskError",
    "UnsupportedOperationError",
    "Worker",
    "WorkerInfo",
    "Workflow",
    "WorkflowError",
    "__version__",
    "chain",
    "current_task",
    "group",
]
