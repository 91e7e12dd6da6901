"""Stores as they are: lookups in a table the system did not shape, at 10,000 and 1,000,000 rows.

One ``customer`` table per engine (SQLite, PostgreSQL, MariaDB) with no shadow column and no
index of ours, its e-mails and phones written the way people type them (each row one of the
spellings below). Per engine and size: building the identifier index (rows/s), ``find`` p50/p95
for random customers by e-mail and by phone once the index covers them, the same store's raw
primary-key query as the same-run baseline, and how many customers were found (every spelling
must be). The index lives where ``DSR_INDEX_URL`` would put it: a SQLite file for the SQLite
store, PostgreSQL (as several worker hosts share it) for the other two.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from random import Random
from typing import Any

import sqlalchemy as sa

from benchmarks.context import Context
from benchmarks.stats import pct, ratio

FIND_TARGET_MS = 5.0
SCALE_TARGET = 2.0
BUILD_TARGET = 50_000.0
SPELLINGS = (
    "(+84) {a} {b} {c}",
    "0{a}-{b}-{c}",
    "0{a}.{b}.{c}",
    "+84{a}{b}{c}",
    "84 {a} {b} {c}",
    "0{a} {b} {c}",
    '"Khách hàng" <0{a}{b}{c}>',
    "0{a}{b}{c}",
)
EMAILS = ("{u}@example.vn", " {u}@example.vn ", "{U}@Example.VN", "{U}@EXAMPLE.VN")
MARIADB = os.environ.get("DSR_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306")


def _row(i: int) -> dict[str, Any]:
    national = f"9{i % 10}{i:07d}"[-9:]
    a, b, c = national[:3], national[3:6], national[6:]
    user = f"khach.{i}"
    return {
        "id": i,
        "email": EMAILS[i % len(EMAILS)].format(u=user, U=user.title()),
        "phone": SPELLINGS[i % len(SPELLINGS)].format(a=a, b=b, c=c),
        "full_name": f"Khách hàng {i}",
        "date_upd": datetime(2026, 1, 1),
    }


def _subject(i: int) -> tuple[str, str]:
    national = f"9{i % 10}{i:07d}"[-9:]
    return f"khach.{i}@example.vn", f"+84{national}"


def _fill(engine: sa.Engine, n: int) -> float:
    """Create and fill the table; seconds taken."""
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS customer"))
        conn.execute(
            sa.text(
                "CREATE TABLE customer (id INTEGER PRIMARY KEY, email VARCHAR(128), "
                "phone VARCHAR(64), full_name VARCHAR(128), date_upd TIMESTAMP NULL)"
            )
        )
    batch = 50_000
    for lo in range(1, n + 1, batch):
        rows = [_row(i) for i in range(lo, min(lo + batch, n + 1))]
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                raw = conn.connection.driver_connection
                assert raw is not None
                columns = "id, email, phone, full_name, date_upd"
                with raw.cursor().copy(f"COPY customer ({columns}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(tuple(r.values()))
            else:
                conn.execute(
                    sa.text(
                        "INSERT INTO customer VALUES (:id, :email, :phone, :full_name, :date_upd)"
                    ),
                    rows,
                )
    return time.perf_counter() - started


@contextmanager
def _engines(ctx: Context, size: int) -> Iterator[list[tuple[str, str, str]]]:
    """(engine, store URL, index URL) for each engine, dropped afterwards."""
    sqlite_dir = ctx.services.folder(f"stores-{size}")
    pg_store = ctx.services.schema(f"stores_{size}")
    pg_index = ctx.services.schema(f"stores_index_{size}")
    name = f"bench_stores_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(MARIADB)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield [
            (
                "sqlite",
                f"sqlite:///{sqlite_dir / 'store.db'}",
                f"sqlite:///{sqlite_dir / 'index.db'}",
            ),
            ("postgresql", pg_store, pg_index),
            ("mariadb", f"{MARIADB}/{name}?charset=utf8mb4", pg_index),
        ]
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
        ctx.services.drop_schema(pg_store)
        ctx.services.drop_schema(pg_index)


def _measure(
    engine_name: str, url: str, index_url: str, size: int, subjects: int, seed: int
) -> dict[str, Any]:
    from connectors.identifier_index import IdentifierIndex
    from connectors.sql import SqlStore
    from dsr.identity import Identity

    engine = sa.create_engine(url)
    fill = _fill(engine, size)
    entry = {
        "name": f"shop_{engine_name}",
        "kind": "sql",
        "url": url,
        "tables": [
            {
                "name": "customer",
                "key": "id",
                "match": {"email": "email", "phone": "phone"},
                "changed_at": "date_upd",
                "erase": {"mode": "delete"},
            }
        ],
    }
    index = IdentifierIndex(index_url, "bench-secret-key-" + "x" * 16)
    store = SqlStore.from_config(entry, secret_key="bench-secret-key-" + "x" * 16, index=index)
    started = time.perf_counter()
    store.refresh_index()
    build = time.perf_counter() - started
    covered = datetime(2000, 1, 1)  # every request in the sample was received before the build
    picks = Random(seed).sample(range(1, size + 1), min(subjects, size))
    found = 0
    times: list[float] = []
    raw: list[float] = []
    with engine.connect() as conn:
        for n, i in enumerate(picks):
            email, phone = _subject(i)
            identity = Identity({"email": {email}} if n % 2 else {"phone": {phone}})
            t = time.perf_counter()
            result = store.find(identity, as_of=covered)
            times.append(time.perf_counter() - t)
            rows = result.records.get("customer", [])
            found += any(r["id"] == i for r in rows)
            t = time.perf_counter()
            conn.execute(sa.text("SELECT * FROM customer WHERE id = :i"), {"i": i}).all()
            raw.append(time.perf_counter() - t)
    store.close()
    index.close()
    engine.dispose()
    return {
        "fill_s": fill,
        "build_rows_per_s": size / build,
        "find_p50_ms": pct(times, 50) * 1000,
        "find_p95_ms": pct(times, 95) * 1000,
        "raw_p95_ms": pct(raw, 95) * 1000,
        "found": found,
        "searched": len(picks),
    }


def run(ctx: Context) -> None:
    opts = ctx.opts
    sizes = [2_000, 20_000] if opts.quick else [10_000, 1_000_000]
    subjects = 200 if opts.quick else 1000
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for size in sizes:
        with _engines(ctx, size) as engines:
            for name, url, index_url in engines:
                m = _measure(name, url, index_url, size, subjects, opts.seed)
                results[(name, size)] = m
                r = ctx.report
                r.add(
                    "stores",
                    f"{name} {size:,}: index build",
                    m["build_rows_per_s"],
                    "rows/s",
                    target=f">= {BUILD_TARGET:,.0f}",
                    met=m["build_rows_per_s"] >= BUILD_TARGET,
                )
                r.add(
                    "stores",
                    f"{name} {size:,}: find p95 (p50 {m['find_p50_ms']:.2f} ms)",
                    m["find_p95_ms"],
                    "ms",
                    baseline="raw primary-key query p95",
                    baseline_value=m["raw_p95_ms"],
                    ratio=ratio(m["find_p95_ms"], m["raw_p95_ms"]),
                    target=f"<= {FIND_TARGET_MS} ms",
                    met=m["find_p95_ms"] <= FIND_TARGET_MS,
                )
                r.add(
                    "stores",
                    f"{name} {size:,}: customers found, every spelling",
                    100.0 * m["found"] / m["searched"],
                    "%",
                    target="100 %",
                    met=m["found"] == m["searched"],
                )
    small, large = sizes
    for name in ("sqlite", "postgresql", "mariadb"):
        a, b = results[(name, small)], results[(name, large)]
        ctx.report.add(
            "stores",
            f"{name}: find p95 at {large:,} vs {small:,}",
            b["find_p95_ms"],
            "ms",
            baseline=f"p95 at {small:,}",
            baseline_value=a["find_p95_ms"],
            ratio=ratio(b["find_p95_ms"], a["find_p95_ms"]),
            target=f"<= {SCALE_TARGET}x",
            met=b["find_p95_ms"] <= SCALE_TARGET * a["find_p95_ms"],
        )
    ctx.report.details["stores"] = {f"{k[0]}-{k[1]}": v for k, v in results.items()}
