"""The yearly DSR report on 1,000,000 requests (PostgreSQL): target ≤ 30 s.

A fresh schema of its own (``bench_report_<run>``, dropped at the end unless ``--keep``) in the
database ``--url`` names gets the ledger's tables (Alembic), then synthetic rows by COPY: the
requests of one year (60 % access, 25 % erase, 10 % rectify, 5 % complaint; 85 % completed, some
late, some open, rejected or canceled with a reason), a task per store for each non-complaint
request (some retried, some failed), a notice per recipient for rectify and erase, and two audit
events per request (1 % of them a deadline extension). Then ``VACUUM ANALYZE`` and the report,
timed: the whole year, one jurisdiction, and the HTML. Baseline in the same run: one
``SELECT count(*)`` over the requests (a full scan of the table the report reads first).

    .venv/bin/python -m benchmarks.dsr_report --url postgresql+psycopg://postgres@127.0.0.1:5432/test_h7
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ops import report, report_render

TARGET_S = 30.0
STORES = ("crm", "newsletter", "orders", "recordings")
RECIPIENTS = ("Giao Hàng Nhanh (GHN)", "Viettel Post")
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
RESULTS = Path(__file__).resolve().parent / "results" / "report-latest.json"


def _kind(r: random.Random) -> str:
    x = r.random()
    return "access" if x < 0.6 else "erase" if x < 0.85 else "rectify" if x < 0.95 else "complaint"


def _status(r: random.Random) -> tuple[str, str | None]:
    x = r.random()
    if x < 0.85:
        return "completed", None
    if x < 0.90:
        return "canceled", r.choice(("subject withdrew", "expired unverified", None))
    if x < 0.93:
        return "rejected", r.choice(("identity not proven", "manifestly unfounded"))
    return r.choice(("in_progress", "needs_attention", "awaiting_verification")), None


def load(url: str, n: int, seed: int = 26) -> dict[str, int]:
    """COPY ``n`` requests and what they did into the ledger at ``url``; the row counts."""
    r = random.Random(seed)
    engine = get_engine(url)
    raw: Any = engine.raw_connection()
    counts = {"requests": 0, "connector_tasks": 0, "notices": 0, "audit_events": 0}
    try:
        cur = raw.cursor()
        ids: list[tuple[str, str, datetime]] = []
        with cur.copy(
            "COPY requests (id, kind, status, jurisdiction, language, email, identity, changes,"
            " verified_email, code_attempts, received_at, due_at, completed_at, updated_at,"
            " attention, late) FROM STDIN"
        ) as copy:
            for i in range(n):
                rid = uuid.UUID(int=r.getrandbits(128)).hex
                kind = _kind(r)
                status, why = _status(r)
                received = YEAR_START + timedelta(seconds=r.randrange(365 * 86400))
                allowed = 15 if kind == "complaint" else 20 if kind == "erase" else 10
                due = received + timedelta(days=allowed)
                took = r.lognormvariate(1.4, 0.6) if status == "completed" else None
                done = received + timedelta(days=took) if took is not None else None
                verified = f"s{i}@example.com" if status not in ("awaiting_verification",) else None
                copy.write_row((
                    rid, kind, status, r.choice(("vn", "vn", "vn", "gdpr", "ccpa")), "vi",
                    f"s{i}@example.com", "{}", "{}", verified, 0, received, due, done,
                    done or received, why, bool(done and done > due),
                ))  # fmt: skip
                ids.append((rid, kind, received))
        counts["requests"] = n
        with cur.copy(
            "COPY connector_tasks (id, request_id, connector, stage, status, records, attempts,"
            " updated_at) FROM STDIN"
        ) as copy:
            for rid, kind, received in ids:
                if kind == "complaint":
                    continue
                for store in STORES:
                    attempts = 1 if r.random() < 0.97 else r.randint(2, 5)
                    status = "failed" if attempts == 5 else r.choice(("done", "done", "skipped"))
                    copy.write_row((uuid.uuid4().hex, rid, store, 0, status, 1, attempts, received))
                    counts["connector_tasks"] += 1
        with cur.copy(
            "COPY notices (id, request_id, recipient, name, status, records, fields, attempt,"
            " created_at, updated_at) FROM STDIN"
        ) as copy:
            for rid, kind, received in ids:
                if kind not in ("rectify", "erase"):
                    continue
                for name in RECIPIENTS:
                    status = r.choice(("sent", "sent", "sent", "not_needed", "failed"))
                    copy.write_row((uuid.uuid4().hex, rid, name[:8], name, status, "[]", "[]", 1,
                                    received, received))  # fmt: skip
                    counts["notices"] += 1
        with cur.copy(
            "COPY audit_events (at, actor, action, request_id, detail) FROM STDIN"
        ) as copy:
            for rid, _, received in ids:
                copy.write_row((received, "system", "verified", rid, "{}"))
                extra = "deadline_extended" if r.random() < 0.01 else "completed"
                copy.write_row((received, "system", extra, rid, "{}"))
                counts["audit_events"] += 2
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    return counts


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def run(url: str, n: int, *, keep: bool) -> dict[str, Any]:
    schema = f"bench_report_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    ledger = f"{url}{sep}options=-csearch_path%3D{schema}"
    try:
        migrate(ledger)
        load_s, counts = _timed(lambda: load(ledger, n))
        zone = ZoneInfo("Asia/Ho_Chi_Minh")
        period = {"start": date(2026, 1, 1), "end": date(2026, 12, 31), "zone": zone}
        with session_scope(ledger) as session:
            base_s, _ = _timed(
                lambda: session.execute(sa.text("SELECT count(*) FROM requests")).scalar()
            )
        with session_scope(ledger) as session:
            year_s, figures = _timed(lambda: report.yearly(session, **period))  # type: ignore[arg-type]
        with session_scope(ledger) as session:
            vn_s, _ = _timed(lambda: report.yearly(session, jurisdiction="vn", **period))  # type: ignore[arg-type]
        html_s, _ = _timed(lambda: report_render.html("yearly", figures, lang="en", company="B"))
    finally:
        get_engine(ledger).dispose()
        if not keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    total = figures.total
    return {
        "machine": platform.node(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": counts,
        "load_seconds": round(load_s, 1),
        "baseline_count_seconds": round(base_s, 3),
        "report_seconds": round(year_s, 2),
        "report_one_jurisdiction_seconds": round(vn_s, 2),
        "html_seconds": round(html_s, 3),
        "ratio_to_baseline": round(year_s / base_s, 1) if base_s else None,
        "target_seconds": TARGET_S,
        "ok": year_s <= TARGET_S,
        "figures": {
            "received": total.received,
            "completed": total.completed,
            "median_days": total.median_days,
            "p90_days": total.p90_days,
            "late": total.late,
            "extensions": total.extensions,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test_h7")
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="Keep the schema afterwards.")
    args = parser.parse_args()
    result = run(args.url, args.requests, keep=args.keep)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
