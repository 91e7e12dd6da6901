"""1. Peer workload: one PostgreSQL store, access then erase, with 1 and 2 worker processes.

Comparable with other DSR systems measured on the same workload. Each worker count gets a
fresh ledger and its own subjects (an erased customer is not found again). Per kind, on each
pool: a burst (every request submitted back to back; baseline: the same number of messages
through a no-op actor on the same workers, twice), then the unloaded latency (one request at a
time; baseline: as many no-op round trips, one at a time).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from random import Random
from typing import Any

from benchmarks import shop
from benchmarks.context import Context
from benchmarks.figures import add_batch, add_costs, add_latency
from benchmarks.pipeline import BatchResult

TARGETS = {"access": 3900, "erase": 2300}  # requests/minute on this 2-core machine class
# The open-source peer's (Ethyca Fides) p50 latency, seconds: the unloaded latency's target.
PEER_P50_S = {"access": 0.25, "erase": 0.33}
CPU_MS_PER_REQUEST = 25.0  # worker CPU per single-store request, under a burst
LOCK_WAIT_SHARE = 0.20  # of the ledger connections' busy time, under a burst
PROFILED = 30  # --profile: requests of each kind run inline under pyinstrument
WARMUP = 1  # per kind and pool, before the unloaded latency: not counted


def run(ctx: Context) -> None:
    opts = ctx.opts
    url = ctx.services.schema("shop")
    loaded = shop.load(url, customers=opts.peer_customers, orders=opts.peer_orders, seed=opts.seed)
    connectors = shop.write_connectors(url, ctx.services.tmp)
    details: dict[str, Any] = {"store": loaded, "runs": {}}
    ctx.report.details["peer"] = details
    n, lat = opts.peer_requests, opts.latency_requests + WARMUP
    needed = len(opts.workers) * 2 * (n + lat) + 2 * PROFILED
    subjects = iter(Random(opts.seed).sample(range(1, opts.peer_customers + 1), needed))
    for procs in opts.workers:
        with ctx.pipeline(
            f"peer{procs}",
            connectors_file=connectors,
            data_dir=ctx.services.folder("data-peer"),
            processes=procs,
        ) as drv:
            run_details: dict[str, Any] = {"workers": drv.pool.settings, "unloaded": {}}
            details["runs"][f"{procs}p"] = run_details
            for kind in ("access", "erase"):
                result = drv.run(kind, _subs(kind, subjects, n), budget=opts.batch_budget)
                drv.baseline(result)
                run_details[kind] = result.to_json()
                _figures(ctx, kind, procs, result)
            # Apart from the bursts, on the same (now warm) workers: one request at a time.
            for kind in ("access", "erase"):
                latency = drv.sequential(
                    kind, _subs(kind, subjects, lat), opts.batch_budget, warmup=WARMUP
                )
                run_details["unloaded"][kind] = latency.to_json()
                add_latency(ctx, "peer", f"{kind} {procs} proc", latency, target_s=PEER_P50_S[kind])
            if opts.profile and procs == max(opts.workers):
                run_details["inline_profile"] = _inline_profile(ctx, drv.rt, subjects)


def _subs(kind: str, subjects: Iterator[int], count: int) -> list[Any]:
    """The next ``count`` subjects as ``dsr submit --verified --by`` requests of ``kind``."""
    from dsr.core.intake.filing import Submission

    return [
        Submission(kind, shop.email_of(c), verified=True, by="bench")
        for c in islice(subjects, count)
    ]


def _figures(ctx: Context, kind: str, procs: int, r: BatchResult) -> None:
    goal = TARGETS[kind]
    label = f"{kind} {procs} proc"
    add_batch(
        ctx,
        "peer",
        label,
        r,
        target=f">= {goal:,}",
        met=lambda per_min, _ratio: per_min >= goal,
        budget=ctx.opts.batch_budget,
    )
    add_costs(ctx, "peer", label, r, cpu_ms=CPU_MS_PER_REQUEST, lock_share=LOCK_WAIT_SHARE)


def _inline_profile(ctx: Context, rt: Any, subjects: Iterator[int]) -> dict[str, Any]:
    """Where one request's CPU goes, in one thread (no contention): pyinstrument, per kind."""
    from benchmarks import inline

    return {
        kind: inline.profile(rt, _subs(kind, subjects, PROFILED), f"peer-inline-{kind}")
        for kind in ("access", "erase")
    }
