"""1. Peer workload: one PostgreSQL store, access then erase, with 1 and 2 worker processes.

Comparable with other DSR systems measured on the same workload. Each worker count gets a
fresh ledger and its own subjects (an erased customer is not found again). The baseline of each
batch: the same number of messages through a no-op actor on the same workers, twice.
"""

from __future__ import annotations

from random import Random
from typing import Any

from benchmarks import shop
from benchmarks.context import Context
from benchmarks.figures import add_batch
from benchmarks.pipeline import BatchResult

TARGETS = {"access": 3900, "erase": 2300}  # requests/minute on this 2-core machine class
PROFILED = 30  # --profile: requests of each kind run inline under pyinstrument


def run(ctx: Context) -> None:
    from dsr.core.intake import Submission

    opts = ctx.opts
    url = ctx.services.schema("shop")
    loaded = shop.load(url, customers=opts.peer_customers, orders=opts.peer_orders, seed=opts.seed)
    connectors = shop.write_connectors(url, ctx.services.tmp)
    details: dict[str, Any] = {"store": loaded, "runs": {}}
    ctx.report.details["peer"] = details
    n = opts.peer_requests
    subjects = Random(opts.seed).sample(
        range(1, opts.peer_customers + 1), 2 * n * len(opts.workers) + 2 * PROFILED
    )
    extra = subjects[-2 * PROFILED :]
    for i, procs in enumerate(opts.workers):
        mine = subjects[2 * n * i : 2 * n * (i + 1)]
        batches = {
            "access": [
                Submission("access", shop.email_of(c), verified=True, by="bench") for c in mine[:n]
            ],
            "erase": [
                Submission("erase", shop.email_of(c), verified=True, by="bench") for c in mine[n:]
            ],
        }
        with ctx.pipeline(
            f"peer{procs}",
            connectors_file=connectors,
            data_dir=ctx.services.folder("data-peer"),
            processes=procs,
        ) as drv:
            run_details: dict[str, Any] = {"workers": drv.pool.settings}
            details["runs"][f"{procs}p"] = run_details
            for kind, subs in batches.items():
                result = drv.run(kind, subs, budget=opts.batch_budget)
                result.noop_seconds = [drv.noop(result.messages) for _ in range(2)]
                run_details[kind] = result.to_json()
                _figures(ctx, kind, procs, result)
            if opts.profile and procs == max(opts.workers):
                run_details["inline_profile"] = _inline_profile(ctx, drv.rt, extra)


def _figures(ctx: Context, kind: str, procs: int, r: BatchResult) -> None:
    goal = TARGETS[kind]
    add_batch(
        ctx,
        "peer",
        f"{kind} {procs} proc",
        r,
        target=f">= {goal:,}",
        met=lambda per_min, _ratio: per_min >= goal,
    )


def _inline_profile(ctx: Context, rt: Any, customers: list[int]) -> dict[str, Any]:
    """Where one request's CPU goes, in one thread (no contention): pyinstrument, per kind."""
    from benchmarks import inline
    from dsr.core.intake import Submission

    out = {}
    for kind, chunk in (("access", customers[:PROFILED]), ("erase", customers[PROFILED:])):
        subs = [Submission(kind, shop.email_of(c), verified=True, by="bench") for c in chunk]
        out[kind] = inline.profile(rt, subs, f"peer-inline-{kind}")
    return out
