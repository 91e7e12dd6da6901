"""3. Lookup scaling: each demo connector's ``find``, p50/p95 over random subjects, per size.

Subjects are random CRM customers with the identity a request has after expansion (e-mail, phone,
customer id, normalised). Baseline at each size: one raw equality query on the same store (stdlib
``sqlite3``) for the same subjects: indexed where the store's own schema indexes the column (the
newsletter list does not index its typed-in addresses: its baseline is a scan). Each connector's
statements are also run through ``EXPLAIN QUERY PLAN``: a full scan of a table is reported. For the
SQL connectors, the cost of going through the connector at all: ``find`` p50 against the raw query's
p50 at the largest size.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from random import Random
from typing import Any

import sqlalchemy as sa

from benchmarks.context import Context
from benchmarks.stats import pct, ratio

TARGET = 2.0  # p95 at the largest size within 2x of p95 at the smallest
OVERHEAD = 3.0  # a SQL connector's find p50 within 3x of the raw indexed query's p50
WARMUP = 50
RAW = {  # connector -> (store file, one raw query, which subject field it takes)
    "crm": ("crm.db", "SELECT * FROM customers WHERE customer_id = ?", "customer_id"),
    "newsletter": ("newsletter.db", "SELECT * FROM subscribers WHERE email = ?", "email"),
    "orders": ("orders.db", "SELECT * FROM orders WHERE customer_id = ?", "customer_id"),
    # FreePBX indexes dst (not src): the number an agent called.
    "recordings": ("recordings/cdr.db", "SELECT * FROM cdr WHERE dst = ?", "phone"),
}


def sample(data_dir: Path, count: int, seed: int) -> list[dict[str, str]]:
    from dsr.identity import try_normalise_email, try_normalise_phone

    with sqlite3.connect(data_dir / "crm.db") as conn:
        rows = conn.execute(
            "SELECT customer_id, email, phone FROM customers "
            "WHERE email IS NOT NULL AND phone IS NOT NULL ORDER BY id"
        ).fetchall()
    picked = Random(seed).sample(rows, min(count, len(rows)))
    subjects = []
    for customer, email, phone in picked:  # stored as typed: normalised as a request's are
        e, p = try_normalise_email(email), try_normalise_phone(phone)
        if e and p:
            subjects.append({"customer_id": customer, "email": e, "phone": p})
    return subjects


def _identity(subject: dict[str, str]) -> Any:
    from dsr.identity import Identity

    identity = Identity()
    for kind, value in subject.items():
        identity.add(kind, [value])
    return identity


def plans(connector: Any, identity: Any) -> list[str]:
    """EXPLAIN QUERY PLAN lines of the statements one ``find`` runs that scan a whole table."""
    engine = getattr(connector, "engine", None)
    if engine is None:
        return []
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        connector.find(identity)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    scans = []
    with engine.connect() as conn:
        for statement, params in seen:
            for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params):
                detail = str(row[-1])
                if detail.startswith("SCAN") and "USING" not in detail:
                    scans.append(detail)
    return scans


def measure(dirs: dict[int, Path], count: int, seed: int) -> dict[int, dict[str, Any]]:
    """Every connector at every size, interleaved subject by subject, so that a burst of load
    from elsewhere on the machine falls on all sizes alike."""
    from config.settings import CONFIG_DIR, Settings
    from connectors.registry import load_connectors

    settings = Settings()
    stores, subjects, raws = {}, {}, {}
    for size, data_dir in dirs.items():
        stores[size] = load_connectors(
            CONFIG_DIR / "connectors.yaml",
            data_dir=data_dir,
            secret_key=settings.keys.suppression,
            region=settings.default_region,
        )
        subjects[size] = sample(data_dir, count, seed)
        raws[size] = {name: sqlite3.connect(data_dir / RAW[name][0]) for name in RAW}
    times: dict[tuple[int, str, str], list[float]] = {}
    found: dict[tuple[int, str], int] = {}
    try:
        n = min(len(v) for v in subjects.values())
        for i in range(-WARMUP, n):
            for size, connectors in stores.items():
                subject = subjects[size][i % n]
                identity = _identity(subject)
                for name, connector in connectors.items():
                    _file, query, field = RAW[name]
                    raw = raws[size][name]
                    t0 = time.perf_counter()
                    raw.execute(query, (subject[field],)).fetchall()
                    t_raw = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    count_found = connector.find(identity).count
                    t_find = time.perf_counter() - t0
                    if i >= 0:
                        times.setdefault((size, name, "find"), []).append(t_find)
                        times.setdefault((size, name, "raw"), []).append(t_raw)
                        found[(size, name)] = found.get((size, name), 0) + count_found
        out: dict[int, dict[str, Any]] = {}
        for size, connectors in stores.items():
            out[size] = {}
            for name, connector in connectors.items():
                f, r = times[(size, name, "find")], times[(size, name, "raw")]
                out[size][name] = {
                    "kind": getattr(connector, "kind", None),
                    "p50_ms": 1000 * pct(f, 50),
                    "p95_ms": 1000 * pct(f, 95),
                    "raw_p50_ms": 1000 * pct(r, 50),
                    "raw_p95_ms": 1000 * pct(r, 95),
                    "records_per_find": round(found[(size, name)] / n, 2),
                    "full_scans": plans(connector, _identity(subjects[size][0])),
                }
        return out
    finally:
        for size, connectors in stores.items():
            for connector in connectors.values():
                connector.close()
            for raw in raws[size].values():
                raw.close()


def run(ctx: Context) -> None:
    opts = ctx.opts
    sizes = sorted(opts.lookup_sizes)
    dirs = {size: ctx.seeded(size) for size in sizes}
    results = measure(dirs, opts.lookup_subjects, opts.seed)
    for size in sizes:
        if size != ctx.opts.customers or "full" not in opts.only:
            ctx.forget_seed(size)
    ctx.report.details["lookup"] = {str(k): v for k, v in results.items()}
    small, large = sizes[0], sizes[-1]
    for name in results[small]:
        for size in sizes:
            r = results[size][name]
            ctx.report.add(
                "lookup",
                f"{name} find p95 @ {size:,}",
                r["p95_ms"],
                "ms",
                baseline="raw indexed query p95 (ms)",
                baseline_value=r["raw_p95_ms"],
                ratio=ratio(r["p95_ms"], r["raw_p95_ms"]),
            )
        growth = ratio(results[large][name]["p95_ms"], results[small][name]["p95_ms"])
        scans = sorted({s for size in sizes for s in results[size][name]["full_scans"]})
        ctx.report.add(
            "lookup",
            f"{name} p95 {large:,} vs {small:,}"
            + (f" (full scan: {'; '.join(scans)})" if scans else ""),
            results[large][name]["p95_ms"],
            "ms",
            baseline=f"p95 @ {small:,} (ms)",
            baseline_value=results[small][name]["p95_ms"],
            ratio=growth,
            target=f"ratio <= {TARGET:g}",
            met=growth is not None and growth <= TARGET and not scans,
        )
        if results[large][name]["kind"] == "sql":
            r = results[large][name]
            overhead = ratio(r["p50_ms"], r["raw_p50_ms"])
            ctx.report.add(
                "lookup",
                f"{name} find p50 vs raw query @ {large:,}",
                r["p50_ms"],
                "ms",
                baseline="raw indexed query p50 (ms)",
                baseline_value=r["raw_p50_ms"],
                ratio=overhead,
                target=f"ratio <= {OVERHEAD:g}",
                met=overhead is not None and overhead <= OVERHEAD,
            )
