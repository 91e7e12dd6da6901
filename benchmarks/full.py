"""2. Full workload: the four demo stores, mixed requests (60 % access, 30 % erase, 10 % rectify).

Stores seeded by ``dsr.seed.seed`` (``--customers``, 100,000 by default); the connectors are the
default ``config/connectors.yaml``. Subjects are distinct random CRM customers, submitted with
their e-mail and phone as support staff would. Run on the largest worker count of
``--workers``; the baseline is the same number of messages through the no-op actor.
"""

from __future__ import annotations

import sqlite3
from random import Random
from typing import Any

from benchmarks.context import Context
from benchmarks.figures import add_batch

TARGET_RATIO = 0.25
MIX = (("access", 0.6), ("erase", 0.3), ("rectify", 0.1))


def subjects(data_dir: Any, count: int, seed: int) -> list[tuple[str, str | None]]:
    """``count`` distinct customers' (e-mail, phone) as written in the CRM."""
    with sqlite3.connect(data_dir / "crm.db") as conn:
        rows = conn.execute(
            "SELECT DISTINCT email, phone FROM customers WHERE email IS NOT NULL"
        ).fetchall()
    rows = [r for r in rows if r[0] and "@" in r[0]]
    return Random(seed).sample(rows, min(count, len(rows)))


def mixed(people: list[tuple[str, str | None]], seed: int) -> list[Any]:
    from dsr.core.intake.filing import Submission

    rng = Random(seed)
    kinds = [k for k, share in MIX for _ in range(round(share * len(people)))]
    kinds = (kinds + ["access"] * len(people))[: len(people)]
    rng.shuffle(kinds)
    out = []
    for (email, phone), kind in zip(people, kinds, strict=True):
        changes = {"address": f"{rng.randint(1, 999)} Lê Lợi, Huế"} if kind == "rectify" else {}
        out.append(
            Submission(kind, email, phone=_phone(phone), changes=changes, verified=True, by="bench")
        )
    return out


def _phone(raw: str | None) -> str | None:
    from dsr.identity import try_normalise_phone

    return try_normalise_phone(raw) if raw else None


def run(ctx: Context) -> None:
    from config.settings import CONFIG_DIR

    opts = ctx.opts
    data_dir = ctx.seeded(opts.customers)
    subs = mixed(subjects(data_dir, opts.requests, opts.seed), opts.seed)
    procs = max(opts.workers)
    with ctx.pipeline(
        "full", connectors_file=CONFIG_DIR / "connectors.yaml", data_dir=data_dir, processes=procs
    ) as drv:
        result = drv.run("mixed", subs, budget=opts.full_budget)
        drv.baseline(result)
        details = {
            "workers": drv.pool.settings,
            "customers": opts.customers,
            "mix": {k: sum(1 for s in subs if s.kind == k) for k, _ in MIX},
            **result.to_json(),
        }
    ctx.report.details["full"] = details
    ctx.forget_seed(opts.customers)
    add_batch(
        ctx,
        "full",
        f"{len(subs)} mixed, {opts.customers:,} cust, {procs} proc",
        result,
        target=f"ratio >= {TARGET_RATIO}",
        met=lambda _per_min, per_msg: per_msg is not None and per_msg >= TARGET_RATIO,
        budget=opts.full_budget,
    )
