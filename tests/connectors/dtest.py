"""A small shop database for the ``dsr connectors discover`` / ``check`` tests, on every engine.

Tables are named ``dtest_<prefix>_*`` (the prefix random per run) so they never meet another
test's tables in the suite's shared test databases, nor another run of these tests. Column
names are chosen so that only the values can tell what they hold: the e-mails are in
``contact``, the phones in ``misc``. PostgreSQL and MariaDB skip on a laptop without them and
fail under ``DSR_REQUIRE_SERVICES=1`` (``tests.services``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests import services

SERVER_URLS = {"postgres": services.POSTGRES_URL, "mariadb": services.MARIADB_URL}
ENGINES = ["sqlite", "postgres", "mariadb"]
NAMES = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung", "Hoàng Văn Em"]
T0 = datetime(2026, 1, 5, 9, 30)
N = 30  # customers with usable identifiers (and one more without)
UNREADABLE_EMAIL, UNREADABLE_PHONE = "chưa có email", "không có số"


def email_of(i: int) -> str:
    """Mixed case for two in three, stray spaces for one in five."""
    address = f"Khach.Hang{i}@Example.VN" if i % 3 else f"khach.hang{i}@example.vn"
    return f" {address} " if i % 5 == 0 else address


def phone_of(i: int) -> str:
    """The same kind of mobile number in four spellings."""
    rest = f"{i:03d}"
    return [f"0903 111 {rest}", f"+84 903-111-{rest}", f"0903.111.{rest}", f"(+84) 903 111 {rest}"][
        i % 4
    ]


def url_for(engine: str, tmp_path: Path) -> str:
    """The database the test uses on ``engine`` (skips or fails when the server is absent)."""
    if engine == "sqlite":
        return f"sqlite:///{tmp_path / 'shop.db'}"
    url = SERVER_URLS[engine]
    try:
        probe = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with probe.connect():
            pass
        probe.dispose()
    except Exception as err:  # noqa: BLE001 - any connect failure means "not here"
        services.unavailable(engine, err)
    return url


def shop_tables(prefix: str) -> tuple[sa.MetaData, dict[str, sa.Table]]:
    """The shop's tables: customers, their orders and items, products, calls, a key probe."""
    md = sa.MetaData()
    p = f"dtest_{prefix}_"
    customers = sa.Table(
        f"{p}customers",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("contact", sa.String(120)),
        sa.Column("misc", sa.String(60)),
        sa.Column("full_name", sa.String(120)),
        sa.Column("address", sa.String(200)),
        sa.Column("created_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, index=True),
    )
    orders = sa.Table(
        f"{p}orders",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey(customers.c.id)),
        sa.Column("total", sa.Numeric(12, 2)),
        sa.Column("date_updated_gmt", sa.DateTime),
    )
    items = sa.Table(
        f"{p}order_items",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("order_id", sa.Integer, sa.ForeignKey(orders.c.id)),
        sa.Column("sku", sa.String(40)),
        sa.Column("qty", sa.Integer),
    )
    # order_id with no foreign key: only its name and values link it to the orders.
    order_log = sa.Table(
        f"{p}order_log",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("order_id", sa.Integer),
        sa.Column("event", sa.String(40)),
    )
    products = sa.Table(
        f"{p}products",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("title", sa.String(80)),
        sa.Column("price", sa.Numeric(12, 2)),
    )
    calls = sa.Table(
        f"{p}calls",
        md,
        sa.Column("uniqueid", sa.String(32), primary_key=True),
        sa.Column("calldate", sa.DateTime),
        sa.Column("clid", sa.String(80)),
        sa.Column("recordingfile", sa.String(255)),
    )
    # No primary key, no unique index: what `check` must probe ("dup" holds a duplicate).
    loose = sa.Table(
        f"{p}loose",
        md,
        sa.Column("ref", sa.String(20)),
        sa.Column("dup", sa.String(20)),
        sa.Column("email", sa.String(120)),
    )
    tables = {
        "customers": customers,
        "orders": orders,
        "order_items": items,
        "order_log": order_log,
        "products": products,
        "calls": calls,
        "loose": loose,
    }
    return md, tables


def create_shop(url: str, prefix: str) -> dict[str, str]:
    """Create and fill the shop (dropping any left over); its table names by role."""
    md, t = shop_tables(prefix)
    engine = sa.create_engine(url)
    md.drop_all(engine)
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t["customers"]),
            [
                {
                    "id": i,
                    "contact": email_of(i),
                    "misc": phone_of(i),
                    "full_name": NAMES[i % 5],
                    "address": f"{i} Lê Lợi, Phường Bến Nghé, Quận 1, TP HCM",
                    "created_at": T0,
                    "updated_at": T0 + timedelta(days=i),
                }
                for i in range(1, N + 1)
            ]
            # One customer whose e-mail and phone no matching can read.
            + [
                {
                    "id": N + 1,
                    "contact": UNREADABLE_EMAIL,
                    "misc": UNREADABLE_PHONE,
                    "full_name": NAMES[0],
                    "address": "",
                    "created_at": T0,
                    "updated_at": T0,
                }
            ],
        )
        conn.execute(
            sa.insert(t["orders"]),
            [
                {"id": i, "customer_id": (i % N) + 1, "total": 100, "date_updated_gmt": T0}
                for i in range(1, 2 * N + 1)
            ],
        )
        conn.execute(
            sa.insert(t["order_items"]),
            [
                {"id": i, "order_id": (i % (2 * N)) + 1, "sku": "SKU-1", "qty": 1}
                for i in range(1, 61)
            ],
        )
        conn.execute(
            sa.insert(t["order_log"]),
            [{"id": i, "order_id": (i * 7 % (2 * N)) + 1, "event": "paid"} for i in range(1, 41)],
        )
        conn.execute(
            sa.insert(t["products"]),
            [{"id": i, "title": "Áo thun", "price": 10} for i in range(1, 11)],
        )
        conn.execute(
            sa.insert(t["calls"]),
            [
                {
                    "uniqueid": f"1767600000.{i}",
                    "calldate": T0,
                    "clid": f'"{NAMES[i % 5]}" <0903111{i:03d}>',
                    "recordingfile": f"out-{i}-20260105.wav",
                }
                for i in range(1, N + 1)
            ],
        )
        conn.execute(
            sa.insert(t["loose"]),
            [{"ref": f"R{i}", "dup": f"D{min(i, 5)}", "email": email_of(i)} for i in range(1, 9)],
        )
    engine.dispose()
    return {role: str(table.name) for role, table in t.items()}


def drop_shop(url: str, prefix: str) -> None:
    md, _ = shop_tables(prefix)
    engine = sa.create_engine(url)
    md.drop_all(engine)
    engine.dispose()


def fingerprint(url: str, tables: list[str]) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row, per table: any write changes one of them."""
    engine = sa.create_engine(url)
    out: dict[str, tuple[int, str]] = {}
    with engine.connect() as conn:
        for name in tables:
            quoted = conn.dialect.identifier_preparer.quote(name)
            rows = sorted(repr(tuple(r)) for r in conn.execute(sa.text(f"SELECT * FROM {quoted}")))
            out[name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    engine.dispose()
    return out


def pg_write_counters(url: str, tables: list[str]) -> dict[str, tuple[int, int, int]]:
    """PostgreSQL's own count of rows inserted, updated and deleted, per table."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        rows = conn.execute(
            sa.text(
                "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables "
                "WHERE relname = ANY(:names)"
            ),
            {"names": tables},
        ).all()
    engine.dispose()
    return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}


def dsr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``dsr`` command, as the CLI tests run it."""
    return subprocess.run(
        [sys.executable, "-m", "dsr", *args], env=env, text=True, capture_output=True, timeout=120
    )


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DSR_VAR_DIR=str(tmp_path / "var"), DSR_LOG_FORMAT="json", **extra)
    env.pop("DSR_DATABASE_URL", None)
    return env


def entries_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A discovered entry's tables by name."""
    return {t["name"]: t for t in doc["connector"]["tables"]}
