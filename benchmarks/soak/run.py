"""``make soak``: the system under faults, with its invariants checked at the end.

    python -m benchmarks.soak.run            # 500 requests under a kill storm, then 10+10
                                             # recovery trials (~25 minutes on 2 cores)
    python -m benchmarks.soak.run --quick    # ~40 requests, the same faults compressed
    python -m benchmarks.soak.run --requests 200 --trials 3   # a reduced full run

The full run ends with recovery trials: a worker SIGKILLed while it holds work (with and
without the scheduler), then each server outage alone (``outages.py``: Redis FLUSHALL, Redis
restart, PostgreSQL restart), the worst of each in the table.

Everything runs on servers the soak starts and stops itself, on free ports: a PostgreSQL
cluster (the ledger), a redis-server (the broker), an SMTP server (in this process), three
`dsr worker` processes (two in the quick run) and a `dsr scheduler`, the demo stores in a
scratch folder, and the export folder on a small tmpfs (to fill). The table goes to stdout
and, for the full run, as JSON to ``benchmarks/results/soak-latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from dsr.service.views import dump

RESULTS = Path(__file__).resolve().parents[1] / "results"
SECRET = "soak-secret-key-0123456789abcdef"
OPS = "ops@example.com"


@dataclass(frozen=True)
class Plan:
    requests: int
    load_seconds: float
    customers: int
    scale: float  # of the fault timetable (full: 1.0)
    drain_seconds: float
    env: dict[str, str]
    workers: int = 2
    storm: bool = False  # a random worker SIGKILLed every 5 s while the load runs (issue 23)
    trials: int = 0  # recovery trials after a worker's SIGKILL, with and without the scheduler
    outage_trials: int = 0  # recovery trials after each outage alone (Redis flush or restart,
    # PostgreSQL restart), with the scheduler
    max_duplicate_share: float | None = None  # per cent of replies; None: reported only


FULL = Plan(500, 250, 2000, 1.0, 420, {
    "DSR_STALL_ALERT_SECONDS": "180",
    "DSR_DELIVERY_GIVE_UP_SECONDS": "120",
}, workers=3, storm=True, trials=10, outage_trials=3, max_duplicate_share=0.1)  # fmt: skip
QUICK = Plan(40, 45, 300, 0.25, 150, {
    "DSR_REDRIVE_AFTER_SECONDS": "8",
    "DSR_STALL_ALERT_SECONDS": "45",
    "DSR_DELIVERY_GIVE_UP_SECONDS": "30",
    "DSR_TASK_MIN_BACKOFF_MS": "200",
    "DSR_TASK_MAX_BACKOFF_MS": "2000",
    "DSR_SMTP_TIMEOUT": "3",
})  # fmt: skip


def _retention_file(folder: Path) -> Path:
    """The shipped rules less the orders' anonymisation (the soak counts deleted rows), with
    the jobs every minute or two and a short leader lock."""
    from config.settings import CONFIG_DIR

    doc = yaml.safe_load((CONFIG_DIR / "retention.yaml").read_text("utf-8"))
    doc["rules"] = [r for r in doc["rules"] if r["action"] == "delete"]
    doc["schedule"] = {
        "sweep": "*/2 * * * *",
        "watchdog": "* * * * *",
        "redrive": "* * * * *",
        "cleanup": "30 * * * *",
    }
    doc["leader_ttl_seconds"] = 5
    path = folder / "retention.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak.run")
    parser.add_argument("--quick", action="store_true", help="the short version (make test)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and logs")
    parser.add_argument("--requests", type=int, help="requests to file (full run: 500)")
    parser.add_argument("--trials", type=int, help="recovery trials each way (full run: 10)")
    parser.add_argument(
        "--outage-trials", type=int, help="recovery trials per server outage (full run: 3)"
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.requests is not None:
        plan = replace(plan, requests=args.requests)
    if args.trials is not None:
        plan = replace(plan, trials=args.trials)
    if args.outage_trials is not None:
        plan = replace(plan, outage_trials=args.outage_trials)
    tmp = Path(tempfile.mkdtemp(prefix="dsr-soak-"))
    os.chmod(tmp, 0o755)  # the PostgreSQL cluster runs as another user
    started = time.monotonic()
    try:
        findings, info = _soak(plan, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    info["seconds"] = round(time.monotonic() - started)
    _report(findings, info, args.quick)
    return 0 if findings.ok else 1


@dataclass
class Soak:
    """The soak's servers and fleet, as a measurement sees them."""

    pg: Any
    redis: Any
    smtp: Any
    disk: Any
    env: dict[str, str]
    svc: Any
    fleet: Any


def _soak(plan: Plan, tmp: Path) -> tuple[Any, dict[str, Any]]:
    return _servers(plan, tmp, lambda *a: _run(plan, tmp, *a))


def _servers(plan: Plan, tmp: Path, body: Any) -> Any:
    """Start the soak's own servers, call ``body(env, pg, redis, smtp, disk, stops)``, stop
    everything (``stops`` takes what the body starts)."""
    from .disk import Disk
    from .servers import FaultySmtp, Postgres, RedisServer

    pg, redis_server = Postgres(tmp / "pg"), RedisServer(tmp / "redis")
    smtp, disk = FaultySmtp(OPS), Disk(tmp / "exports", 64)
    stops: list[Any] = []
    try:
        pg.start()
        stops.append(pg.stop)
        redis_server.start()
        stops.append(redis_server.stop)
        smtp.start()
        stops.append(smtp.stop)
        disk.mount()
        stops.append(disk.unmount)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DSR_")},
            "DSR_DATABASE_URL": pg.url,
            "DSR_REDIS_URL": redis_server.url,
            "DSR_BROKER_NAMESPACE": "soak",
            "DSR_SMTP_HOST": "127.0.0.1",
            "DSR_SMTP_PORT": str(smtp.port),
            "DSR_OPS_EMAIL": OPS,
            "DSR_DATA_DIR": str(tmp / "data"),
            "DSR_EXPORT_DIR": str(disk.root),
            "DSR_VAR_DIR": str(tmp / "var"),
            "DSR_RETENTION_FILE": str(_retention_file(tmp)),
            "DSR_SECRET_KEY": SECRET,
            "DSR_SUPPRESSION_KEY": SECRET,  # the key the demo stores are seeded with
            "DSR_LOG_FORMAT": "json",
            "DSR_VOUCH_POLICY": "single",  # staff-vouched requests run end to end
            **plan.env,
        }
        os.environ.update(env)  # the driver's own settings and broker, before workers
        return body(env, pg, redis_server, smtp, disk, stops)
    finally:
        for stop in reversed(stops):
            try:
                stop()
            except Exception as err:  # noqa: BLE001 - tear everything down regardless
                print(f"soak: teardown: {type(err).__name__}: {err}", file=sys.stderr)


def with_servers(plan: Plan, tmp: Path, measure: Any, *, customers: int) -> None:
    """The soak's servers, seeded stores and fleet, without its load: ``measure(Soak)``."""

    def body(env: dict[str, str], pg: Any, redis_server: Any, smtp: Any, disk: Any,
             stops: list[Any]) -> None:  # fmt: skip
        from config.settings import get_settings

        get_settings.cache_clear()
        from demo.seed import seed
        from dsr.core.ledger.db import migrate
        from dsr.core.runtime.process import Runtime
        from dsr.service import Service
        from workers.actors import enqueue

        from .fleet import Fleet

        seed(tmp / "data", customers, secret_key=SECRET, reset=True)
        rt = Runtime()
        migrate(rt.db_url)
        fleet = Fleet(env, tmp / "logs", workers=plan.workers, threads=4)
        fleet.start()
        stops.append(fleet.stop)
        try:
            measure(Soak(pg, redis_server, smtp, disk, env, Service(rt, enqueue), fleet))
        finally:
            rt.close()

    _servers(plan, tmp, body)


def _run(
    plan: Plan, tmp: Path, env: dict[str, str], pg: Any, redis_server: Any, smtp: Any,
    disk: Any, stops: list[Any],
) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    from config.settings import get_settings

    get_settings.cache_clear()
    from demo.seed import seed
    from dsr.core.ledger.db import migrate
    from dsr.core.runtime.process import Runtime
    from dsr.service import Caller, Service
    from workers.actors import enqueue

    from .check import check
    from .duplicates import expected, explain, windows
    from .faults import Faults
    from .fleet import Fleet
    from .load import Load
    from .outages import faults as outage_faults
    from .outages import outage_recovery, worst
    from .storm import Storm, recovery, wrong_ledger
    from .subjects import all_keys, pick

    seed(tmp / "data", plan.customers, secret_key=SECRET, reset=True)
    rt = Runtime()
    migrate(rt.db_url)
    warnings: list[str] = []
    svc = Service(rt, enqueue, warn=warnings.append)
    initial = all_keys(tmp / "data")
    fleet = Fleet(env, tmp / "logs", workers=plan.workers, threads=4)
    fleet.start()
    stops.append(fleet.stop)
    faults = Faults(fleet, pg, redis_server, smtp, disk, env, tmp / "logs", plan.scale)
    load = Load(svc, smtp, pick(tmp / "data"), seed=1)
    storm = Storm(fleet, faults)
    wrong: dict[str, Any] = {}
    began = time.monotonic()
    faults.start()
    if plan.storm:
        storm.start()
        # Right after the timetable's Redis FLUSHALL (20 s): a worker on another ledger.
        threading.Timer(
            21 * plan.scale, lambda: wrong.update(wrong_ledger(env, tmp / "wrong"))
        ).start()
    load.run(plan.requests, plan.load_seconds)
    storm.stop()
    while time.monotonic() - began < faults.length:
        load.verify_waiting()
        time.sleep(1)
    faults.stop()
    ops = Caller.staff("soak-ops")
    settled_at = _drain(svc, load, plan.drain_seconds, ops)
    retried = 0
    for request_id in list(load.filed):  # ops act on what needs them, as the alerts asked
        try:
            if dump(svc.status(request_id, by=ops))["status"] == "needs_attention":
                svc.retry(request_id, by=ops)
                retried += 1
        except Exception:  # noqa: BLE001 - counted by the checks that follow
            continue
    _drain(svc, load, plan.drain_seconds, ops)
    subprocess.run(  # the last sweep, as the nightly job would finish what the killed ones left
        [sys.executable, "-m", "dsr", "purge", "--by", "soak"], env=env, check=False,
        capture_output=True, timeout=300,
    )  # fmt: skip
    trials = {
        way: recovery(svc, fleet, trials=plan.trials, batch=3, scheduler=way == "with")
        for way in ("with", "without")
        if plan.trials
    }
    outages = {
        name: outage_recovery(
            svc, fleet, fault, trials=plan.outage_trials, batch=6, tag=name.split()[-1].lower()
        )
        for name, fault in outage_faults(pg, redis_server).items()
        if plan.outage_trials
    }
    fleet.stop()
    findings = check(
        rt, load, smtp, initial, datetime.now(UTC), max_duplicate_share=plan.max_duplicate_share
    )
    kills = [(at, p.name) for p in fleet.workers for at in p.killed_at]
    findings.detail["duplicates_explained"] = explain(smtp.timeline, kills)
    seen = findings.detail["window_seen_by_workers"] = windows(tmp / "logs")
    if plan.storm and seen:
        sent = sum(1 for _, dot, _ in smtp.timeline if storm.began <= dot <= storm.ended)
        findings.detail["storm_messages_sent"] = sent
        findings.detail["duplicates_expected_from_window"] = expected(
            seen["mean_ms"], sent, storm.every * plan.workers
        )
    if plan.storm:
        findings.add("kill storm: workers SIGKILLed (one every 5 s)", storm.kills, True)
        refused = wrong.get("exit") == 3 and wrong.get("file_left") is False
        findings.add(
            "wrong-ledger worker after a flush (exit, file left)",
            f"{wrong.get('exit')}, {wrong.get('file_left')}",
            refused,
        )
    for way, seconds in trials.items():
        hit = [x for x in seconds if x is None or x >= 0]  # -1: the kill caught nothing
        slowest = worst(seconds)
        findings.add(
            f"worst recovery after a worker SIGKILL, {way} scheduler "
            f"({len(hit)} of {len(seconds)} trials caught work)",
            f"{slowest} s" if slowest is not None else f"not recovered ({seconds})",
            slowest is not None and slowest < 60,
        )
        findings.detail[f"recovery_{way}_scheduler_s"] = seconds
    for name, seconds in outages.items():
        hit = [x for x in seconds if x is None or x >= 0]  # -1: the fault caught nothing
        slowest = worst(seconds)
        findings.add(
            f"worst recovery after a {name} ({len(hit)} of {len(seconds)} trials caught work)",
            f"{slowest} s" if slowest is not None else f"not recovered ({seconds})",
            slowest is not None and slowest < 60,
        )
        findings.detail[f"recovery_{name.lower().replace(' ', '_')}_s"] = seconds
    info = {
        "faults": faults.done,
        "faults_not_injected": faults.skipped,
        "kills": {p.name: p.kills for p in fleet.all()},
        "wrong_ledger": wrong,
        "settled_after_faults_s": settled_at,
        "ops_retries": retried,
        "broker_warnings_at_intake": len(warnings),
        "smtp_refusals": dict(smtp.refused),
        "requests_planned": plan.requests,
        "customers": plan.customers,
    }
    rt.close()
    return findings, info


def _drain(svc: Any, load: Any, seconds: float, ops: Any) -> float | None:
    """Wait until every request is finished or waits on ops; re-drive now and then, as the
    scheduler does every minute. Seconds it took, or None if it did not settle in time."""
    from sqlmodel import Session, col, select

    from dsr.core.ledger.db import get_engine
    from dsr.core.ledger.models import Request

    started = time.monotonic()
    moving = ("received", "verified", "in_progress", "replying", "awaiting_verification")
    last = 0.0
    while time.monotonic() - started < seconds:
        load.verify_waiting()
        try:
            with Session(get_engine(svc.rt.db_url)) as session:
                busy = session.exec(
                    select(Request.id).where(
                        col(Request.status).in_(moving), col(Request.id).in_(list(load.filed))
                    )
                ).all()
            if not busy:
                return round(time.monotonic() - started, 1)
            if time.monotonic() - last > 15:
                svc.redrive(None, by=ops)
                last = time.monotonic()
        except Exception:  # noqa: BLE001 - a server may still be coming back
            pass
        time.sleep(1)
    return None


def _report(findings: Any, info: dict[str, Any], quick: bool) -> None:
    width = max(len(name) for name, _, _ in findings.rows)
    print(f"\n{'invariant':<{width}}  value")
    for name, value, ok in findings.rows:
        print(f"{name:<{width}}  {value}{'' if ok else '   <-- FAILED'}")
    print(f"\nfaults injected: {', '.join(f'{t}s {n}' for t, n in info['faults'])}")
    if info["faults_not_injected"]:
        print(f"not injected: {', '.join(info['faults_not_injected'])}")
    rest = {k: v for k, v in info.items() if k != "faults"}
    print(f"details: {json.dumps({**findings.detail, **rest}, default=str)}")
    if quick:
        return  # the short version (make test) leaves no file in the work tree
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "soak-latest.json"
    out.write_text(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
                "invariants": [{"name": n, "value": v, "ok": ok} for n, v, ok in findings.rows],
                "detail": findings.detail,
                **info,
            },
            indent=2,
            default=str,
        )
    )
    print(f"written: {out}")


if __name__ == "__main__":
    sys.exit(main())
