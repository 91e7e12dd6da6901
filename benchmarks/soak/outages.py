"""Recovery after a server outage, one fault alone at a time (issue 23): a Redis FLUSHALL, a
Redis restart (every queued message lost) and a PostgreSQL restart.

Each trial files a batch of requests, waits until the fleet is at work on them (a task
running), injects the fault and times from its start to the batch's completion. The soak
(``run.py``) runs these after its worker-kill trials and puts the worst of each in its table;
on their own, on the soak's own servers:

    python -m benchmarks.soak.outages --trials 3            # with the scheduler running
    python -m benchmarks.soak.outages --trials 3 --without-scheduler
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .fleet import Fleet
from .storm import _running, _states

FAULTS = ("Redis FLUSHALL", "Redis restart", "PostgreSQL restart")


def faults(pg: Any, redis_server: Any) -> dict[str, Callable[[], None]]:
    """The three outages, by the name the soak's table gives them."""

    def redis_restart() -> None:
        redis_server.stop()
        time.sleep(2.0)
        redis_server.start()

    return {
        "Redis FLUSHALL": redis_server.flush,
        "Redis restart": redis_restart,
        "PostgreSQL restart": pg.restart,
    }


def outage_recovery(
    svc: Any,
    fleet: Fleet,
    fault: Callable[[], None],
    *,
    trials: int,
    batch: int,
    tag: str,
    timeout: float = 180,
) -> list[float | None]:
    """Seconds from the fault's start to the batch's completion, per trial (None: not within
    ``timeout``; -1: the batch was done before the fault, which then caught nothing)."""
    from dsr.core.intake.filing import Submission
    from dsr.service import Caller
    from dsr.service.views import dump

    results: list[float | None] = []
    for trial in range(trials):
        fleet.revive()
        time.sleep(3)  # everything up and consuming
        ids = []
        for n in range(batch):
            try:
                sub = Submission(
                    "access", f"outage-{tag}-{trial}-{n}@example.com", verified=True, by="soak"
                )
                ids.append(dump(svc.submit(sub, by=Caller.staff("soak")))["id"])
            except Exception as err:  # noqa: BLE001 - a server still coming back: fewer
                print(f"outage {tag}: submit failed: {type(err).__name__}", file=sys.stderr)
        until = time.monotonic() + 15
        while time.monotonic() < until and not _safe(_running, svc, ids):
            time.sleep(0.1)
        began = time.monotonic()
        if _safe(_states, svc, ids) == {"completed"}:
            results.append(-1.0)
            continue
        fault()
        took: float | None = None
        while time.monotonic() - began < timeout:
            if _safe(_states, svc, ids) == {"completed"}:
                took = round(time.monotonic() - began, 1)
                break
            time.sleep(0.5)
        results.append(took)
    return results


def _safe(read: Callable[[Any, list[str]], Any], svc: Any, ids: list[str]) -> Any:
    try:
        return read(svc, ids)
    except Exception:  # noqa: BLE001 - the ledger is restarting: ask again
        return None


def worst(seconds: list[float | None]) -> float | None:
    """The worst trial that caught work; None if one never recovered or none caught work."""
    hit = [x for x in seconds if x is None or x >= 0]
    done = [x for x in hit if x is not None]
    return max(done) if done and len(done) == len(hit) else None


def main(argv: list[str] | None = None) -> int:
    from . import run

    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak.outages")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--batch", type=int, default=6)
    parser.add_argument("--without-scheduler", action="store_true")
    parser.add_argument("--only", choices=FAULTS, action="append")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="dsr-outages-"))
    os.chmod(tmp, 0o755)  # the PostgreSQL cluster runs as another user
    results: dict[str, list[float | None]] = {}

    def measure(ctx: run.Soak) -> None:
        if args.without_scheduler:
            ctx.fleet.scheduler.stop()
        for name, fault in faults(ctx.pg, ctx.redis).items():
            if args.only and name not in args.only:
                continue
            results[name] = outage_recovery(
                ctx.svc, ctx.fleet, fault, trials=args.trials, batch=args.batch,
                tag=name.split()[-1].lower(),
            )  # fmt: skip
            if args.without_scheduler:
                ctx.fleet.scheduler.stop()  # revive() started it again
            print(f"{name}: {results[name]}", flush=True)

    try:
        # The shipped timings (re-drive, leases): the full soak's plan, on two workers.
        run.with_servers(replace(run.FULL, workers=2), tmp, measure, customers=200)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    way = "without" if args.without_scheduler else "with"
    print(f"\nworst recovery, {way} the scheduler ({args.trials} trials, batch {args.batch}):")
    for name, seconds in results.items():
        w = worst(seconds)
        print(f"  {name:<20} {w if w is not None else 'not recovered'} s   {seconds}")
    worsts = [worst(s) for s in results.values()]
    return 0 if all(w is not None and w < 60 for w in worsts) else 1


if __name__ == "__main__":
    sys.exit(main())
