"""Run requests through the core's steps inline, in one thread, without the broker.

Each step runs exactly as its actor would (one session, one core call, commit) and the steps it
returns are run next, in order. Used to measure one request's memory (``memory``) and, with
``--profile``, to profile the core's CPU per request with pyinstrument: in one thread there are
no lock waits, so the profile shows work, not contention.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.report import RESULTS


def submit(rt: Any, sub: Any) -> tuple[str, list[Any]]:
    from dsr.core.intake import filing
    from dsr.core.ledger.db import session_scope

    with session_scope(rt.db_url) as session:
        request, todo = filing.submit(session, rt, filing.validate(rt, sub))
    return request.id, list(todo)


def execute(
    rt: Any,
    todo: list[Any],
    *,
    deliver: bool = True,
    after: Callable[[str, float], None] | None = None,
) -> None:
    """Run ``todo`` and every step that follows, in order; ``after(actor, seconds)`` each."""
    from dsr.core.ledger.db import units_of_work
    from dsr.core.pipeline import runner
    from dsr.core.runtime.steps import StepName

    uow = units_of_work(rt.db_url)
    while todo:
        step = todo.pop(0)
        if step.actor == StepName.DELIVER and not deliver:
            continue
        t0 = time.perf_counter()
        follow = runner.execute(uow, rt, step)
        if after is not None:
            after(step.actor, time.perf_counter() - t0)
        todo.extend(follow)


def profile(rt: Any, subs: list[Any], label: str) -> dict[str, Any]:
    """pyinstrument over ``subs`` run inline; the text report is kept in results/."""
    from pyinstrument import Profiler

    per_actor: dict[str, list[float]] = {}

    def note(actor: str, seconds: float) -> None:
        per_actor.setdefault(actor, []).append(seconds)

    profiler = Profiler(interval=0.0005)
    t0 = time.perf_counter()
    profiler.start()
    for sub in subs:
        t_sub = time.perf_counter()
        _, todo = submit(rt, sub)
        note("intake", time.perf_counter() - t_sub)
        execute(rt, todo, after=note)
    profiler.stop()
    seconds = time.perf_counter() - t0
    path: Path = RESULTS / f"profile-{label}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        profiler.output_text(unicode=True, color=False, show_all=False), encoding="utf-8"
    )
    return {
        "requests": len(subs),
        "ms_per_request": round(1000 * seconds / len(subs), 1),
        "ms_per_request_by_step": {
            a: round(1000 * sum(v) / len(subs), 1) for a, v in per_actor.items()
        },
        "report": str(path.relative_to(RESULTS.parent.parent)),
    }
