"""A product's store in a database of its own, for tests that change it or read it whole.

The session fixtures of ``conftest`` are filled once and shared by every test of this folder,
two products to a database (WooCommerce and FreePBX on MariaDB, listmonk and Odoo on
PostgreSQL): an erasure there would change what the next test reads, and ``discover`` would read
the neighbouring product's tables too. A test that erases, rectifies or surveys a store
therefore gets a copy of its own here: a new PostgreSQL schema or MariaDB database
(``tests.services``), or a new SQLite file, with the product's upstream tables created and
filled by its own ``fill`` (the same seed: the same people and rows as the shared fixtures),
dropped afterwards.

``snapshot`` and ``schema`` read what a store holds, raw, so a test can say what changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests import services
from tests.products import asterisk, bulk, listmonk, odoo, woocommerce
from tests.products.stores import PEOPLE, ProductStore

# Each fixture store: its product module and the engine its upstream runs on.
UPSTREAM = {
    "woocommerce": (woocommerce, "mariadb"),
    "listmonk": (listmonk, "postgres"),
    "odoo": (odoo, "postgres"),
    "asterisk_mariadb": (asterisk, "mariadb"),
    "asterisk_sqlite": (asterisk, "sqlite"),
}

Snapshot = dict[str, dict[str, list[tuple[Any, ...]]]]  # table -> key as text -> rows


@contextmanager
def _database(server: str, folder: Path) -> Iterator[str]:
    """A new, empty database on ``server``, dropped afterwards even when the test failed."""
    if server == "sqlite":
        yield f"sqlite:///{folder / 'store.sqlite3'}"
        return
    made = services.fresh_postgres_url() if server == "postgres" else services.fresh_mariadb_url()
    url = next(made)
    try:
        yield url
    finally:
        next(made, None)  # the generator's clean-up: DROP SCHEMA / DROP DATABASE


@contextmanager
def fresh_store(name: str, folder: Path, people: int = PEOPLE) -> Iterator[ProductStore]:
    """The fixture store ``name`` (``tests.products.stores.STORES``) created and filled in a
    database of its own (recordings under ``folder``); dropped afterwards."""
    module, server = UPSTREAM[name]
    folder.mkdir(parents=True, exist_ok=True)
    with _database(server, folder) as url:
        engine = bulk.local_engine(url)
        try:
            module.create_tables(engine)
            root = folder / "monitor" if module is asterisk else None
            if root is not None:
                seeded = asterisk.fill(engine, root, people)
                entry = asterisk.entry(url, root)
            else:
                seeded = module.fill(engine, people)
                entry = module.entry(url)
            yield ProductStore(name, module, engine, url, seeded, entry, root)
        finally:
            engine.dispose()


def snapshot(store: ProductStore) -> Snapshot:
    """Every row of the product's tables, by table and by the entry's key (text): a key that
    is not unique on its own (``subscriber_lists.subscriber_id``) holds all its rows, sorted."""
    keys = {t.name: store.keys.get(t.name) for t in store.tables}
    out: Snapshot = {}
    with store.engine.connect() as conn:
        for table in store.tables:
            key = keys[table.name] or next(iter(table.primary_key.columns)).name
            rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
            for row in conn.execute(sa.select(table)).mappings():
                rows[str(row[key])].append(tuple(row.values()))
            out[table.name] = {k: sorted(v, key=repr) for k, v in rows.items()}
    return out


def without(snap: Snapshot, keys: dict[str, list[str]]) -> Snapshot:
    """``snap`` without the rows named in ``keys`` (table -> keys): what must not change."""
    return {
        table: {k: v for k, v in rows.items() if k not in set(keys.get(table, ()))}
        for table, rows in snap.items()
    }


def files(store: ProductStore) -> dict[str, bytes]:
    """The recordings under the store's monitor folder, by path below it."""
    if store.root is None or not store.root.exists():
        return {}
    return {
        str(p.relative_to(store.root)): p.read_bytes()
        for p in sorted(store.root.rglob("*"))
        if p.is_file()
    }


def schema(engine: sa.Engine) -> dict[str, Any]:
    """The database's tables with their columns, keys, indexes and triggers, as the engine
    reports them (what no operation of ours may change)."""
    inspector = sa.inspect(engine)
    tables: dict[str, Any] = {}
    for name in sorted(inspector.get_table_names()):
        tables[name] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in inspector.get_columns(name)
            ],
            "primary_key": inspector.get_pk_constraint(name)["constrained_columns"],
            "foreign_keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"])
                for f in inspector.get_foreign_keys(name)
            ),
            "indexes": sorted(
                (i["name"] or "", tuple(map(str, i["column_names"])), bool(i["unique"]))
                for i in inspector.get_indexes(name)
            ),
            "unique": sorted(
                (u["name"] or "", tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(name)
            ),
        }
    return {"tables": tables, "triggers": triggers(engine)}


def triggers(engine: sa.Engine) -> list[tuple[str, str]]:
    """(table, trigger) for every trigger in the store's database or schema."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"
        elif engine.dialect.name == "postgresql":
            sql = (
                "SELECT event_object_table, trigger_name FROM information_schema.triggers "
                "WHERE trigger_schema = current_schema()"
            )
        else:
            sql = (
                "SELECT event_object_table, trigger_name FROM information_schema.triggers "
                "WHERE trigger_schema = DATABASE()"
            )
        return sorted((str(t), str(n)) for t, n in conn.execute(sa.text(sql)))
