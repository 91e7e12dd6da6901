"""5. Export memory: peak RSS of building the access bundle of a subject with many records.

The demo stores are seeded small, then the demo subject (KH000001) is given ``--memory-orders``
orders (one item each) and ``--memory-recordings`` calls (rows of the PBX's ``cdr``) with ~1 MB
of recording each. A fresh
subprocess (``python -m benchmarks.memory``) runs the real core steps of one access request
inline, in order, as the actors would (intake, dispatch, every connector task, fan-in,
aggregate: the bundle and the reply), against a SQLite ledger, and reports its peak RSS
(``VmHWM``), after each step, so the step that holds the memory is named. Baseline: the same
process's RSS after its imports and set-up, before the request.
"""

from __future__ import annotations

import json
import resource
import sqlite3
import subprocess
import sys
import time
import wave
from datetime import datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

from benchmarks.context import Context
from benchmarks.stats import ratio

TARGET_MB = 300
AUDIO_SECONDS = 60  # 8 kHz mono 16-bit: ~0.96 MB per call


def prepare(data_dir: Path, orders: int, recordings: int, seed: int) -> dict[str, Any]:
    """Seed small demo stores and give the demo subject ``orders`` orders and ``recordings``
    calls (the seed's own two included)."""
    import sqlalchemy as sa

    from demo.seed import DEMO_CUSTOMER_ID, DEMO_RECORDS, DEMO_SUBJECT, store_paths
    from demo.seed import seed as seed_stores
    from demo.stores import cdr, stamp

    seed_stores(data_dir, 200, secret_key="bench", seed=seed, reset=True)
    now = datetime(2026, 6, 1)
    written = stamp().isoformat(" ", "microseconds")
    with sqlite3.connect(data_dir / "orders.db") as conn:
        first = conn.execute("SELECT coalesce(max(id), 0) FROM orders").fetchone()[0] + 1
        first_item = conn.execute("SELECT coalesce(max(id), 0) FROM order_items").fetchone()[0]
        conn.executemany(
            "INSERT INTO orders (id, order_no, customer_id, email, recipient_name, "
            "shipping_address, shipping_phone, status, delivery_partner, total, "
            "payment_method, card_last4, created_at, delivered_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    first + i,
                    f"DB{first + i:08d}",
                    DEMO_CUSTOMER_ID,
                    DEMO_SUBJECT["email"],
                    DEMO_SUBJECT["name"],
                    "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh",
                    "0912 345 678",
                    "delivered",
                    "Viettel Post",
                    str(100_000 + i % 900_000),
                    "cod",
                    None,
                    (now - timedelta(minutes=i)).isoformat(" ", "microseconds"),
                    (now - timedelta(minutes=i - 30)).isoformat(" ", "microseconds"),
                    written,
                )
                for i in range(orders)
            ),
        )
        conn.executemany(
            "INSERT INTO order_items (id, order_id, sku, product_name, quantity, unit_price) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                (
                    first_item + 1 + i,
                    first + i,
                    f"SKU{i % 500:04d}",
                    "Khoá học tiếng Anh",
                    1,
                    str(100_000 + i % 900_000),
                )
                for i in range(orders)
            ),
        )
    monitor = store_paths(data_dir)["monitor"]
    sample = monitor / "bench-long.wav"
    with wave.open(str(sample), "wb") as wav:  # noise: audio barely compresses in a ZIP
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(Random(seed).randbytes(8000 * 2 * AUDIO_SECONDS))
    have = len(DEMO_RECORDS["subject"]["calls"])
    rows = []
    for i in range(max(0, recordings - have)):
        name = f"bench/bench-{i:03d}.wav"
        (monitor / name).parent.mkdir(parents=True, exist_ok=True)
        (monitor / name).write_bytes(sample.read_bytes())
        uniqueid = f"CALL-BENCH-{i:04d}"
        rows.append(
            {
                "calldate": now - timedelta(days=1, minutes=i),
                "clid": '"NGUYEN VAN AN" <0912345678>',
                "src": "0912345678",
                "dst": "600",
                "duration": AUDIO_SECONDS + 5,
                "billsec": AUDIO_SECONDS,
                "disposition": "ANSWERED",
                "uniqueid": uniqueid,
                "linkedid": uniqueid,
                "recordingfile": name,
                "cnum": "0912345678",
            }
        )
    engine = sa.create_engine(f"sqlite:///{store_paths(data_dir)['recordings']}")
    try:
        with engine.begin() as conn:
            if rows:
                conn.execute(sa.insert(cdr), rows)
    finally:
        engine.dispose()
    sample.unlink()
    return {
        "orders": orders,
        "order_items": orders,
        "recordings": max(recordings, have),
        "audio_mb": round(recordings * sample_size_mb(), 1),
    }


def sample_size_mb() -> float:
    return (8000 * 2 * AUDIO_SECONDS + 44) / 2**20


def _peak_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so
    a child of a big parent would report the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def child(data_dir: Path, work: Path) -> dict[str, Any]:
    """The measured process: one access request's core steps, inline (no SMTP)."""
    from benchmarks import inline
    from config.settings import Settings
    from demo.seed import DEMO_SUBJECT
    from dsr.core.intake.filing import Submission
    from dsr.core.ledger.db import migrate
    from dsr.core.runtime.process import Runtime

    settings = Settings(
        database_url=f"sqlite:///{work / 'ledger.db'}",
        data_dir=data_dir,
        export_dir=work / "exports",
        var_dir=work / "var",
        vouch_policy="single",  # the measured request is staff-vouched
    )
    rt = Runtime(settings)
    migrate(rt.db_url)
    rt.connectors  # noqa: B018 - built before the baseline is taken
    baseline = {"rss_mb": _rss_mb(), "peak_mb": _peak_mb()}
    steps: list[dict[str, Any]] = []

    def note(actor: str, seconds: float) -> None:
        steps.append({"step": actor, "seconds": round(seconds, 2), "peak_mb": _peak_mb()})

    started = time.perf_counter()
    request_id, todo = inline.submit(
        rt,
        Submission(
            "access", DEMO_SUBJECT["email"], phone=DEMO_SUBJECT["phone"], verified=True, by="bench"
        ),
    )
    note("intake", time.perf_counter() - started)
    inline.execute(rt, todo, deliver=False, after=note)
    bundle = settings.resolved_export_dir / request_id / "bundle.zip"
    return {
        "baseline": baseline,
        "peak_mb": _peak_mb(),
        "steps": steps,
        "tasks": _tasks(rt, request_id),
        "seconds": round(time.perf_counter() - started, 2),
        "bundle_mb": round(bundle.stat().st_size / 2**20, 1) if bundle.exists() else None,
    }


def _tasks(rt: Any, request_id: str) -> dict[str, Any]:
    from sqlmodel import select

    from dsr.core.ledger.db import session_scope
    from dsr.core.ledger.models import ConnectorTask

    with session_scope(rt.db_url) as session:
        rows = session.exec(select(ConnectorTask).where(ConnectorTask.request_id == request_id))
        return {
            t.connector: {
                "status": t.status,
                "records": t.records,
                "seconds": round((t.finished_at - t.started_at).total_seconds(), 2)
                if t.finished_at and t.started_at
                else None,
            }
            for t in rows
        }


def run(ctx: Context) -> None:
    opts = ctx.opts
    data_dir = ctx.services.folder("memory-data")
    work = ctx.services.folder("memory-work")
    prepared = prepare(data_dir, opts.memory_orders, opts.memory_recordings, opts.seed)
    out = work / "result.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", str(data_dir), str(work), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory subprocess failed: {proc.stderr[-2000:]}")
    result = json.loads(out.read_text())
    result["prepared"] = prepared
    ctx.report.details["memory"] = result
    seen = result["baseline"]["peak_mb"]
    for s in result["steps"]:  # the step during which the peak grew most
        s["grew_mb"] = round(s["peak_mb"] - seen, 1)
        seen = max(seen, s["peak_mb"])
    grew = max(result["steps"], key=lambda s: s["grew_mb"])
    ctx.report.add(
        "memory",
        f"access bundle, {opts.memory_orders:,} orders + "
        f"{prepared['recordings']} recordings: peak RSS (grew most in "
        f"{_step_name(grew, result)})",
        result["peak_mb"],
        "MB",
        baseline="RSS after set-up (MB)",
        baseline_value=result["baseline"]["rss_mb"],
        ratio=ratio(result["peak_mb"], result["baseline"]["rss_mb"]),
        target=f"< {TARGET_MB} MB",
        met=result["peak_mb"] < TARGET_MB,
    )


def _step_name(step: dict[str, Any], result: dict[str, Any]) -> str:
    """The step's actor; for a connector task, the slowest task (the one holding the rows)."""
    if step["step"] != "run_task":
        return str(step["step"])
    slowest = max(result["tasks"].items(), key=lambda kv: kv[1]["seconds"] or 0)
    return f"run_task ({slowest[0]})"


if __name__ == "__main__":
    data, scratch, target = (Path(a) for a in sys.argv[1:4])
    target.write_text(json.dumps(child(data, scratch)))
