"""Run a request's steps inline, in order, without a broker (each step its own transactions)."""

from __future__ import annotations

from dsr.core.ledger.db import units_of_work
from dsr.core.pipeline import runner
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.steps import Step
from dsr.errors import DeliveryError


def drive(rt: Runtime, queue: list[Step]) -> list[Step]:
    """Run steps until none are left; the deliver steps that raised DeliveryError (to retry)."""
    failed: list[Step] = []
    queue = list(queue)
    uow = units_of_work(rt.db_url)
    for _ in range(500):
        if not queue:
            return failed
        step = queue.pop(0)
        try:
            queue += runner.execute(uow, rt, step)
        except DeliveryError:
            failed.append(step)
    raise AssertionError("the step graph did not converge")
