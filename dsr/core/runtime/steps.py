"""What to enqueue after a core function's transaction commits.

Core functions never touch the broker: they return ``Step``s, and the caller (an actor or the
CLI) sends them only after commit, so a message never points at a row that does not exist.
``StepName`` is the one list of steps: the runner maps each to its core call, and the workers
send each that leaves the process to its actor.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class StepName(StrEnum):
    DISPATCH = "dispatch"
    RUN_TASK = "run_task"
    AGGREGATE = "aggregate"
    DELIVER = "deliver"
    # Run by the caller right after a commit, never sent to the broker.
    ADVANCE = "advance"
    FAN_IN = "fan_in"


class Step(NamedTuple):
    actor: StepName
    id: str


def dispatch(request_id: str) -> Step:
    return Step(StepName.DISPATCH, request_id)


def run_task(task_id: str) -> Step:
    return Step(StepName.RUN_TASK, task_id)


def aggregate(request_id: str) -> Step:
    return Step(StepName.AGGREGATE, request_id)


def deliver(outbox_id: str) -> Step:
    return Step(StepName.DELIVER, outbox_id)


def advance(request_id: str) -> Step:
    """Decide, in a fresh transaction after a task's commit, what may run next.

    Deciding inside the task's own transaction loses work under concurrency: two last tasks
    finishing together each see the other still running, and neither starts fan-in.
    """
    return Step(StepName.ADVANCE, request_id)


def fan_in(request_id: str) -> Step:
    """Decide, in the ledger, whether every task is over and the reply can be built."""
    return Step(StepName.FAN_IN, request_id)
