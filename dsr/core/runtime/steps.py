"""What to enqueue after a core function's transaction commits.

Core functions never touch the broker: they return ``Step``s, and the caller (an actor or the
CLI) sends them only after commit, so a message never points at a row that does not exist.
"""

from __future__ import annotations

from typing import NamedTuple


class Step(NamedTuple):
    actor: str  # dispatch | run_task | aggregate | deliver, or inline: advance | fan_in
    id: str


def dispatch(request_id: str) -> Step:
    return Step("dispatch", request_id)


def run_task(task_id: str) -> Step:
    return Step("run_task", task_id)


def aggregate(request_id: str) -> Step:
    return Step("aggregate", request_id)


def deliver(outbox_id: str) -> Step:
    return Step("deliver", outbox_id)


def advance(request_id: str) -> Step:
    """Decide, in a fresh transaction after a task's commit, what may run next.

    Deciding inside the task's own transaction loses work under concurrency: two last tasks
    finishing together each see the other still running, and neither starts fan-in.
    """
    return Step("advance", request_id)
