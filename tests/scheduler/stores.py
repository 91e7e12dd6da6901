"""Seeded demo stores on each engine, and raw snapshots of them to compare before and after."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from pydantic import SecretStr

from config.settings import CONFIG_DIR, Settings
from demo.seed import seed, store_paths
from demo.stores import STORES
from dsr.core.runtime.process import Runtime
from dsr.spellings import stored_values

SECRET = "scheduler-tests-secret-key"
# The seeded "today" and the sweeps' frozen clock (a past instant, so `--as-of` accepts it).
NOW = datetime(2025, 9, 15, tzinfo=UTC)
NAIVE_NOW = NOW.replace(tzinfo=None)
CUSTOMERS = 400
SQL = ("crm", "newsletter", "orders", "recordings")
# (store, table) -> (age column, cut-off) of the shipped config/retention.yaml as of NOW.
AGE = {
    ("recordings", "cdr"): ("calldate", NAIVE_NOW - timedelta(days=180)),
    ("newsletter", "subscribers"): ("unsubscribed_at", NAIVE_NOW - timedelta(days=30)),
    ("crm", "customers"): ("last_activity_at", NAIVE_NOW - timedelta(days=1096)),
    ("orders", "orders"): ("created_at", datetime((NAIVE_NOW - timedelta(days=3653)).year, 1, 1)),
}
# table -> identifier kind -> the columns holding it, as typed (the PBX's call legs hold the
# customer's number in src or dst, and in cnum / clid); read through dsr.spellings as the
# connectors read them.
MATCH: dict[str, dict[str, tuple[str, ...]]] = {
    "cdr": {"phone": ("src", "dst", "cnum", "clid")},
    "subscribers": {"email": ("email",)},
    "customers": {"email": ("email",), "phone": ("phone",)},
    "orders": {"email": ("email",), "phone": ("shipping_phone",)},
}
TABLES = {
    "crm": ["customers"],
    "newsletter": ["subscribers", "suppression"],
    "orders": ["orders", "order_items"],
    "recordings": ["cdr"],
}
KEYS = {"cdr": "uniqueid"}  # a table without a primary key: the column its rows are known by


@dataclass
class Stores:
    """A runtime whose connectors point at one copy of the seeded stores."""

    rt: Runtime
    data_dir: Path
    urls: dict[str, str]
    engines: dict[str, sa.Engine] = field(default_factory=dict)

    def engine(self, store: str) -> sa.Engine:
        if store not in self.engines:
            self.engines[store] = sa.create_engine(self.urls[store])
        return self.engines[store]

    def snapshot(self) -> dict[str, Any]:
        """Every row of every store table by key, plus the recordings present (by their path
        below the monitor folder)."""
        out: dict[str, Any] = {}
        for store, tables in TABLES.items():
            meta = sa.MetaData()
            with self.engine(store).connect() as conn:
                for name in tables:
                    table = sa.Table(name, meta, autoload_with=conn)
                    key = KEYS.get(name) or next(iter(table.primary_key.columns)).name
                    out[name] = {r[key]: dict(r) for r in conn.execute(sa.select(table)).mappings()}
        out["files"] = recordings(self.data_dir)
        return out

    def close(self) -> None:
        for engine in self.engines.values():
            engine.dispose()
        self.rt.close()


def copy_stores(data_dir: Path, url: str) -> None:
    """Copy the four seeded SQLite stores into the database at ``url`` (the recordings stay
    in the monitor folder: the call archive's file root)."""
    target = sa.create_engine(url)
    try:
        for store in SQL:
            source = sa.create_engine(f"sqlite:///{store_paths(data_dir)[store]}")
            STORES[store].create_all(target)
            with source.connect() as src, target.begin() as dst:
                for table in STORES[store].sorted_tables:
                    rows = [dict(r) for r in src.execute(sa.select(table)).mappings()]
                    if rows:
                        dst.execute(table.insert(), rows)
            source.dispose()
    finally:
        target.dispose()


def connectors_file(tmp: Path, url: str | None) -> Path:
    """The shipped connectors.yaml, its SQL stores moved to ``url`` when given."""
    document = yaml.safe_load((CONFIG_DIR / "connectors.yaml").read_text("utf-8"))
    if url is not None:
        for entry in document["connectors"]:
            if entry["kind"] == "sql":
                entry["url"] = url
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "connectors.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    return path


def settings(tmp: Path, ledger_url: str, **extra: Any) -> Settings:
    return Settings(
        database_url=ledger_url,
        data_dir=tmp / "data",
        var_dir=tmp / "var",
        export_dir=tmp / "exports",
        secret_key=SecretStr(SECRET),
        suppression_key=SecretStr(SECRET),  # the key the stores below are seeded with
        **extra,
    )


def seeded_stores(tmp: Path, ledger_url: str, store_url: str | None) -> Stores:
    """Seed the demo stores at NOW; with ``store_url`` the SQL stores are copied there."""
    data_dir = tmp / "data"
    seed(data_dir, CUSTOMERS, secret_key=SECRET, reset=True, now=NOW)
    if store_url is not None:
        copy_stores(data_dir, store_url)
    rt = Runtime(settings(tmp, ledger_url, connectors_file=connectors_file(tmp, store_url)))
    local = {s: f"sqlite:///{store_paths(data_dir)[s]}" for s in SQL}
    urls = {s: store_url or local[s] for s in SQL}
    return Stores(rt, data_dir, urls)


def aged(table: str, row: dict[str, Any]) -> bool:
    """Whether the shipped rule for ``table`` has aged this row out as of NOW."""
    store = next(s for (s, t) in AGE if t == table)
    column, cutoff = AGE[(store, table)]
    value = row[column]
    return value is not None and value < cutoff


def identifiers(table: str, kind: str, row: dict[str, Any]) -> tuple[str, ...]:
    """The normalised identifiers of ``kind`` a row holds, in whatever spelling it stores them."""
    found = [v for column in MATCH[table].get(kind, ()) for v in stored_values(kind, row[column])]
    return tuple(dict.fromkeys(found))


def held(table: str, row: dict[str, Any], values: dict[str, set[str]]) -> bool:
    return any(
        value in values.get(kind, set())
        for kind in MATCH[table]
        for value in identifiers(table, kind, row)
    )


def recordings(data_dir: Path) -> set[str]:
    """The recordings in the call archive's monitor folder, by path below it."""
    monitor = store_paths(data_dir)["monitor"]
    return {str(p.relative_to(monitor)) for p in monitor.rglob("*") if p.is_file()}
