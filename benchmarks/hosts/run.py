"""Two worker hosts sharing nothing but the servers; one is killed mid-run.

    python -m benchmarks.hosts.run                  # 200 requests (root and `ip netns` needed)
    python -m benchmarks.hosts.run --quick          # 60 requests, no results file (make test)

Each host is a network namespace with its own folder (var, scratch exports) running `dsr worker`,
`dsr scheduler` and `dsr api`; they reach PostgreSQL (ledger, identifier index and the company's
stores), Redis, the SMTP server and the object store (moto's S3 server; exports and the call
recordings) over their veth links only. The driver files mixed requests through the application
service; a third of the way into the load every process of host 1 is SIGKILLed, and the run waits
until every request has settled with no help but host 2's scheduler. Host 1 then boots again with
an empty folder, and every access export (with its recordings) is downloaded through both hosts'
APIs. Exit status 77: no namespaces here (not root, or no `ip netns`).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.hosts import netns

RESULT = Path(__file__).resolve().parents[1] / "results" / "hosts-latest.json"
SECRET = "hosts-secret-key-0123456789abcdef"
OPS = "ops@example.com"
DSR = str(Path(sys.executable).parent / "dsr")
MOVING = ("received", "verified", "in_progress", "replying", "awaiting_verification")
FAST = {
    "DSR_REDRIVE_AFTER_SECONDS": "8",
    "DSR_TASK_LEASE_SECONDS": "20",
    "DSR_TASK_MIN_BACKOFF_MS": "200",
    "DSR_TASK_MAX_BACKOFF_MS": "2000",
    "DSR_SMTP_TIMEOUT": "5",
    "DSR_STALL_ALERT_SECONDS": "600",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hosts.run")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=90.0, help="the load is spread over")
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--drain", type=float, default=600.0, help="seconds to wait at most")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and logs")
    parser.add_argument("--quick", action="store_true", help="60 requests over 30 s, no file")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.seconds = 60, 30.0
    why = netns.available()
    if why is not None:
        print(f"hosts: skipped: {why}")
        return 77
    tmp = Path(tempfile.mkdtemp(prefix="dsr-hosts-"))
    tmp.chmod(0o755)  # the PostgreSQL cluster runs as another user
    started = time.monotonic()
    try:
        result = _hosts(args, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept: {tmp}")
    result["seconds"] = round(time.monotonic() - started)
    _report(result, write=not args.quick)
    return 0 if result["ok"] else 1


def _hosts(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from benchmarks.hosts.servers import SharedPostgres, SharedRedis, SharedSmtp
    from tests.s3server import moto_server

    stops: list[Any] = []
    hosts = [netns.Host(1, tmp / "host1"), netns.Host(2, tmp / "host2")]
    try:
        netns.add_service_address()
        stops.append(netns.remove_service_address)
        for host in hosts:
            stops.append(host.destroy)
            host.create()
        pg, redis_server, smtp = SharedPostgres(tmp / "pg"), SharedRedis(tmp / "redis"), None
        pg.start()
        stops.append(pg.stop)
        redis_server.start()
        stops.append(redis_server.stop)
        smtp = SharedSmtp(OPS)
        smtp.start()
        stops.append(smtp.stop)
        with moto_server(host=netns.SERVICE) as s3:
            return _run(args, tmp, hosts, pg, redis_server, smtp, s3)
    finally:
        for stop in reversed(stops):
            try:
                stop()
            except Exception as err:  # noqa: BLE001 - tear everything down regardless
                print(f"hosts: teardown: {type(err).__name__}: {err}", file=sys.stderr)


def _env(tmp: Path, pg: Any, redis_server: Any, smtp: Any, s3: Any, folder: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("DSR_")},
        "DSR_DATABASE_URL": pg.url_at("postgres"),
        "DSR_INDEX_URL": pg.url_at("dsrindex"),
        "DSR_REDIS_URL": redis_server.url_at(),
        "DSR_BROKER_NAMESPACE": "hosts",
        "DSR_SMTP_HOST": netns.SERVICE,
        "DSR_SMTP_PORT": str(smtp.port),
        "DSR_OPS_EMAIL": OPS,
        "DSR_EXPORT_URL": f"s3://{s3.bucket}/exports",
        "DSR_S3_ENDPOINT_URL": s3.endpoint,
        "DSR_CONNECTORS_FILE": str(tmp / "connectors.yaml"),
        "DSR_RETENTION_FILE": str(tmp / "retention.yaml"),
        "DSR_ATTACH_LIMIT_BYTES": "0",  # every access reply carries a download link
        "DSR_VOUCH_POLICY": "single",  # staff-vouched requests run end to end, as in the soak
        "DSR_VAR_DIR": str(folder / "var"),
        "DSR_EXPORT_DIR": str(folder / "exports"),
        "DSR_DATA_DIR": str(folder / "data"),
        "DSR_SECRET_KEY": SECRET,
        "DSR_SUPPRESSION_KEY": SECRET,  # the key the demo stores are seeded with
        "DSR_LOG_FORMAT": "json",
        **FAST,
    }


def _boot(host: netns.Host, env: dict[str, str], logs: Path) -> list[Any]:
    """Start a host's processes: a worker, a scheduler and the API on port 8000."""
    host.root.mkdir(parents=True, exist_ok=True)
    return [
        host.popen([DSR, "worker", "--processes", "1", "--threads", "4"], env, logs / "worker.log"),
        host.popen([DSR, "scheduler"], env, logs / "scheduler.log"),
        host.popen([DSR, "api", "--host", "0.0.0.0", "--port", "8000"], env, logs / "api.log"),
    ]


def _wait_api(host: netns.Host, seconds: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{host.address}:8000/healthz", timeout=3).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"host {host.index}: the API did not answer")


def _run(
    args: argparse.Namespace, tmp: Path, hosts: list[netns.Host], pg: Any, redis_server: Any,
    smtp: Any, s3: Any,
) -> dict[str, Any]:  # fmt: skip
    import sqlalchemy as sa

    from benchmarks.hosts import stores
    from benchmarks.soak.run import _retention_file

    admin = sa.create_engine(pg.url_at("postgres", "127.0.0.1"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for database in ("stores", "dsrindex"):
            conn.execute(sa.text(f"CREATE DATABASE {database}"))
    admin.dispose()
    stores.seed_shared(tmp / "seed", args.customers, SECRET)
    stores.copy_stores(tmp / "seed", pg.url_at("stores", "127.0.0.1"))
    recordings = stores.upload_recordings(tmp / "seed", s3.client(), s3.bucket)
    stores.connectors_file(tmp, pg.url_at("stores"), f"s3://{s3.bucket}/recordings")
    _retention_file(tmp)  # the soak's: jobs every minute or two, a short leader lock
    driver_env = _env(tmp, pg, redis_server, smtp, s3, tmp / "driver")
    os.environ.update(driver_env)  # the driver's settings and broker, before anything is built

    from config.settings import get_settings

    get_settings.cache_clear()
    from benchmarks.soak.load import Load
    from benchmarks.soak.subjects import pick
    from dsr.core.ledger.db import migrate
    from dsr.core.runtime.process import Runtime
    from dsr.service import Service
    from workers.actors import enqueue

    rt = Runtime()
    migrate(rt.db_url)
    warnings: list[str] = []
    svc = Service(rt, enqueue, warn=warnings.append)
    envs = {h.index: _env(tmp, pg, redis_server, smtp, s3, h.root) for h in hosts}
    for host in hosts:
        (host.root / "logs").mkdir(parents=True, exist_ok=True)
        _boot(host, envs[host.index], host.root / "logs")
    for host in hosts:
        _wait_api(host)
    load = Load(svc, smtp, pick(tmp / "seed"), seed=3)
    killed: dict[str, Any] = {}

    def kill_host_1() -> None:
        time.sleep(args.seconds / 3)
        running = _running(rt)
        killed["processes"] = hosts[0].kill()
        killed["at"] = time.monotonic()
        killed["open_then"] = _open(rt, load)
        time.sleep(8)  # host 2 finishes its own in this time; what is still claimed was host 1's
        killed["orphans"] = sorted(set(running.items()) & set(_running(rt).items()))

    killer = threading.Thread(target=kill_host_1, daemon=True)
    began = time.monotonic()
    killer.start()
    load.run(args.requests, args.seconds)
    while len(load.filed) < args.requests:  # an identical open request was joined: file more
        load.run(args.requests - len(load.filed), 2.0)
    killer.join()
    settled = _wait_settled(rt, load, args.drain)
    drain_s = None if settled is None else round(settled - killed["at"], 1)
    time.sleep(5)  # a reply sent twice would arrive by now
    # Host 1 boots again with an empty folder: nothing it had on disk is needed.
    shutil.rmtree(hosts[0].root, ignore_errors=True)
    (hosts[0].root / "logs").mkdir(parents=True, exist_ok=True)
    _boot(hosts[0], envs[1], hosts[0].root / "logs")
    _wait_api(hosts[0])
    downloads = _downloads(rt, load, hosts)
    counts = _count(rt, load, smtp)
    orphans = Counter(_task_statuses(rt, [task for task, _ in killed["orphans"]]).values())
    rt.close()
    ok = (
        counts["lost"] == 0
        and counts["duplicates"] == 0
        and counts["completed_without_reply"] == 0
        and drain_s is not None
        and downloads["failed"] == 0
        and downloads["checked"] > 0
        and set(orphans) <= {"done", "skipped"}
    )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "ok": ok,
        "requests_planned": args.requests,
        **counts,
        "host_1_killed_after_s": round(killed["at"] - began, 1),
        "host_1_processes_killed": killed["processes"],
        "open_when_killed": killed["open_then"],
        "host_1_tasks_orphaned": len(killed["orphans"]),
        "host_1_tasks_finished_by_host_2": dict(orphans),
        "drain_after_kill_s": drain_s,
        "downloads": downloads,
        "recordings_in_bucket": recordings,
        "broker_warnings_at_intake": len(warnings),
        "refused_at_intake": dict(load.refused),
    }


def _statuses(rt: Any, ids: list[str]) -> dict[str, str]:
    from sqlmodel import Session, col, select

    from dsr.core.ledger.db import get_engine
    from dsr.core.ledger.models import Request

    with Session(get_engine(rt.db_url)) as session:
        rows = session.exec(select(Request.id, Request.status).where(col(Request.id).in_(ids)))
        return {i: str(s) for i, s in rows}


def _running(rt: Any) -> dict[str, Any]:
    """Claimed tasks: id -> when claimed (or last touched)."""
    from sqlmodel import Session, select

    from dsr.core.ledger.db import get_engine
    from dsr.core.ledger.models import ConnectorTask

    with Session(get_engine(rt.db_url)) as session:
        rows = session.exec(
            select(ConnectorTask.id, ConnectorTask.updated_at).where(
                ConnectorTask.status == "running"
            )
        )
        return dict(rows.all())


def _task_statuses(rt: Any, ids: list[str]) -> dict[str, str]:
    from sqlmodel import Session, col, select

    from dsr.core.ledger.db import get_engine
    from dsr.core.ledger.models import ConnectorTask

    with Session(get_engine(rt.db_url)) as session:
        query = select(ConnectorTask.id, ConnectorTask.status).where(col(ConnectorTask.id).in_(ids))
        return {i: str(s) for i, s in session.exec(query)}


def _open(rt: Any, load: Any) -> int:
    return sum(s in MOVING for s in _statuses(rt, list(load.filed)).values())


def _wait_settled(rt: Any, load: Any, seconds: float) -> float | None:
    """When every filed request stopped moving (finished, or waiting on staff or ops): no
    re-drive from here, host 2's scheduler alone recovers host 1's work."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        load.verify_waiting()
        try:
            if _open(rt, load) == 0:
                return time.monotonic()
        except Exception:  # noqa: BLE001 - the ledger may be busy; ask again
            pass
        time.sleep(1)
    return None


def _count(rt: Any, load: Any, smtp: Any) -> dict[str, Any]:
    from sqlmodel import Session, select

    from dsr.core.ledger.db import get_engine
    from dsr.core.ledger.models import Alert

    ids = list(load.filed)
    statuses = _statuses(rt, ids)
    with Session(get_engine(rt.db_url)) as session:
        alerted = {a.request_id for a in session.exec(select(Alert)) if a.request_id}
    replies: Counter[str] = Counter()
    for mid, rcpt in smtp.messages():
        request_id, _, rest = mid.strip("<>").partition(".")
        if rest.startswith("reply@") and rcpt != OPS:
            replies[request_id] += 1
    completed = [i for i in ids if statuses.get(i) == "completed"]
    waiting = [i for i in ids if statuses.get(i) in ("needs_attention", "needs_review")]
    lost = [
        i for i in ids
        if i not in statuses or (statuses[i] in MOVING) or (i in waiting and i not in alerted)
    ]  # fmt: skip
    return {
        "requests": len(ids),
        "submissions": load.submissions,
        "joined_identical": load.joined,
        "completed": len(completed),
        "waiting_on_staff_with_alert": len([i for i in waiting if i in alerted]),
        "statuses": dict(Counter(statuses.values())),
        "replies": sum(replies[i] for i in ids),
        "requests_with_one_reply": sum(replies[i] == 1 for i in completed),
        "duplicates": sum(max(0, replies[i] - 1) for i in ids),
        "completed_without_reply": sum(replies[i] == 0 for i in completed),
        "lost": len(lost),
    }


def _downloads(rt: Any, load: Any, hosts: list[netns.Host]) -> dict[str, Any]:
    """Every completed access request's link, through each host's API: the ZIP (with its WAVs),
    or 410 when a later erasure of the subject deleted it."""
    import logging

    import httpx
    from sqlmodel import Session

    from dsr.core.identity import artefacts

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per download otherwise
    from dsr.core.ledger.db import get_engine
    from dsr.core.replies.links import make_download_token

    statuses = _statuses(rt, list(load.filed))
    access = [f.id for f in load.filed.values() if f.kind == "access"]
    out: dict[str, Any] = {"checked": 0, "zips": 0, "gone_410": 0, "wavs": 0, "failed": 0}
    with Session(get_engine(rt.db_url)) as session:
        revoked = {i for i in access if artefacts.revoked(session, i)}
    for request_id in access:
        if statuses.get(request_id) != "completed":
            continue
        token = make_download_token(request_id, rt.settings)
        for host in hosts:
            out["checked"] += 1
            try:
                got = httpx.get(f"http://{host.address}:8000/exports/{token}", timeout=60)
            except httpx.HTTPError:
                out["failed"] += 1
                continue
            if request_id in revoked:
                out["gone_410"] += got.status_code == 410
                out["failed"] += got.status_code != 410
                continue
            try:
                names = zipfile.ZipFile(io.BytesIO(got.content)).namelist()
            except zipfile.BadZipFile:
                out["failed"] += 1
                continue
            out["zips"] += got.status_code == 200 and "summary.txt" in names
            out["failed"] += got.status_code != 200 or "summary.txt" not in names
            out["wavs"] += sum(n.endswith(".wav") for n in names)
    return out


def _report(result: dict[str, Any], *, write: bool) -> None:
    rows = [
        ("requests (distinct; submissions incl. identical joined)",
         f"{result['requests']} ({result['submissions']})"),
        ("replies received", result["replies"]),
        ("duplicate replies", result["duplicates"]),
        ("lost (not settled, or waiting without an alert)", result["lost"]),
        ("completed / waiting on staff with an alert",
         f"{result['completed']} / {result['waiting_on_staff_with_alert']}"),
        ("completed without a reply", result["completed_without_reply"]),
        ("host 1 killed after (s) / its processes / requests open then",
         f"{result['host_1_killed_after_s']} / {result['host_1_processes_killed']} / "
         f"{result['open_when_killed']}"),
        ("host 1's claimed tasks orphaned / how they ended (finished on host 2)",
         f"{result['host_1_tasks_orphaned']} / {result['host_1_tasks_finished_by_host_2']}"),
        ("time to drain after the kill (s)", result["drain_after_kill_s"]),
        ("downloads via both APIs: ZIPs / 410 after erasure / failed",
         f"{result['downloads']['zips']} / {result['downloads']['gone_410']} / "
         f"{result['downloads']['failed']}"),
        ("WAVs in downloaded ZIPs", result["downloads"]["wavs"]),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"\n{'OK' if result['ok'] else 'FAILED'} in {result['seconds']} s")
    if not write:
        return
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"written: {RESULT}")


if __name__ == "__main__":
    sys.exit(main())
