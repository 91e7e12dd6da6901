"""Run a request's steps inline, in order, without a broker (each step its own transaction)."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from dsr.core import aggregate, delivery, dispatch, tasks
from dsr.core.db import session_scope
from dsr.core.runtime import Runtime
from dsr.core.steps import Step
from dsr.errors import DeliveryError

CORE: dict[str, Callable[[Session, Runtime, str], list[Step]]] = {
    "dispatch": dispatch.dispatch,
    "run_task": tasks.run,
    "advance": dispatch.advance,
    "fan_in": tasks.fan_in,
    "aggregate": aggregate.aggregate,
    "deliver": lambda s, rt, i: delivery.deliver(s, rt.settings, i),
}


def drive(rt: Runtime, queue: list[Step]) -> list[Step]:
    """Run steps until none are left; the deliver steps that raised DeliveryError (to retry)."""
    failed: list[Step] = []
    queue = list(queue)
    for _ in range(500):
        if not queue:
            return failed
        step = queue.pop(0)
        try:
            with session_scope(rt.db_url) as session:
                queue += CORE[step.actor](session, rt, step.id)
        except DeliveryError:
            failed.append(step)
    raise AssertionError("the step graph did not converge")
