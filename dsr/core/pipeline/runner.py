"""One step of a request, run by name: what each actor does, and what runs a request inline.

``execute`` is the single map from a ``Step`` to the core call behind it, each in its own short
transactions. The dramatiq actors call it per message; tests and benchmarks call ``drain`` to
run a request to its end in one thread, with no broker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlmodel import Session

from dsr.core.ledger.db import UnitOfWork
from dsr.core.pipeline import aggregate, dispatch, tasks
from dsr.core.replies import delivery
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.steps import Step, StepName, fan_in

SessionStep = Callable[[Session, Runtime, str], list[Step]]


def _advance(session: Session, rt: Runtime, request_id: str) -> list[Step]:
    """What may run now that a task has committed: the next stage's tasks, or, when none is
    open, fan-in's decision in the same transaction (one commit fewer per request)."""
    follow = dispatch.ready(session, request_id)
    if follow == [fan_in(request_id)]:
        return tasks.fan_in(session, rt, request_id)
    return follow


# Steps that are one transaction: the caller's unit of work commits them.
_IN_ONE_TRANSACTION: dict[StepName, SessionStep] = {
    StepName.DISPATCH: dispatch.dispatch,
    StepName.ADVANCE: _advance,
    StepName.FAN_IN: tasks.fan_in,
    StepName.AGGREGATE: aggregate.aggregate,
}
INLINE = (StepName.ADVANCE, StepName.FAN_IN)  # run by the caller right after a commit, never sent


def execute(uow: UnitOfWork, rt: Runtime, step: Step) -> list[Step]:
    """Run one step; the steps that may run next (after every commit it made)."""
    if step.actor == StepName.RUN_TASK:
        return tasks.run(uow, rt, step.id)
    if step.actor == StepName.DELIVER:
        return delivery.deliver(uow, rt.settings, step.id)
    core = _IN_ONE_TRANSACTION.get(step.actor)
    if core is None:
        raise ValueError(f"unknown step {step.actor!r}")
    with uow() as session:
        return core(session, rt, step.id)


def drain(
    uow: UnitOfWork,
    rt: Runtime,
    todo: Iterable[Step],
    *,
    times: int = 1,
    skip: Callable[[Step], bool] | None = None,
) -> int:
    """Run ``todo`` and every step that follows, in order, each ``times`` times; how many ran.

    ``times=2`` is a duplicate delivery of every message (the actors are idempotent).
    """
    queue = list(todo)
    ran = 0
    while queue:
        step = queue.pop(0)
        if skip is not None and skip(step):
            continue
        for _ in range(times):
            queue += execute(uow, rt, step)
            ran += 1
    return ran
