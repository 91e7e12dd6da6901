"""A store's own columns, in whatever spelling people typed, on every engine (issue 21).

Stores are shaped by other products: an address in mixed case or with stray spaces, a phone with
or without its country code or trunk 0, with spaces, dots, dashes, brackets or a caller-id name
around it. A search for the normalised identifier finds such a record, exports it as stored and
erases it; the same search afterwards finds nothing. The connector matches the columns as they
are and adds nothing to the store: no column, index, trigger or table.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.base import Action, Connector, Operation
from connectors.sql_tables import REDACTED
from demo.stores import create_store, customers, orders
from dsr.identity import EMAIL, PHONE, Identity
from tests.connectors.stores import SQL_STORES, SUBJECT, admit_all, build_connector

CUONG_EMAIL, CUONG_PHONE = "le.van.cuong@example.vn", "+84903111222"
# id -> (identifier kind, the column's value as typed, the normalised value a request carries)
SPELLINGS: dict[str, tuple[str, str, str]] = {
    "email-mixed-case": (EMAIL, "Le.Van.Cuong@Example.VN", CUONG_EMAIL),
    "email-spaces": (EMAIL, " le.van.cuong@example.vn ", CUONG_EMAIL),
    "phone-brackets": (PHONE, "(+84) 903 111 222", CUONG_PHONE),
    "phone-dashes": (PHONE, "0903-111-222", CUONG_PHONE),
    "phone-dots": (PHONE, "0903.111.222", CUONG_PHONE),
    "phone-e164": (PHONE, "+84903111222", CUONG_PHONE),
    "phone-84-spaced": (PHONE, "84 903 111 222", CUONG_PHONE),
    "phone-0-spaced": (PHONE, "0903 111 222", CUONG_PHONE),
    "phone-caller-id": (PHONE, '"Le Van Cuong" <0903111222>', CUONG_PHONE),
    "phone-international": (PHONE, "+65 6123 4567", "+6561234567"),
}
PHONES = {k: v for k, v in SPELLINGS.items() if v[0] == PHONE}
WHEN = datetime(2024, 4, 2, 10, 30)
# Two bystanders: an address that differs only in its domain, and a number that shares the last
# seven digits (the identifier index's key) with Cường's: proposed by the index, never matched.
BYSTANDERS = [
    ("KH-B1", "Trần Thị Bình", "Le.Van.Cuong@Example.COM", "0987 654 321"),
    ("KH-B2", "Phạm Văn Dũng", "pham.van.dung@example.vn", "0913 111 222"),
]


def _crm(tmp_path: Path, url: str, kind: str, stored: str) -> tuple[Connector, sa.Engine]:
    """A CRM holding Cường's row (only ``kind`` filled, as typed) and the bystanders."""
    engine = sa.create_engine(url)
    create_store(engine, "crm")
    rows = [("KH-CUONG", "Lê Văn Cường", *((stored, None) if kind == EMAIL else (None, stored)))]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(customers),
            [
                {
                    "customer_id": cid,
                    "full_name": name,
                    "email": email,
                    "phone": phone,
                    "status": "active",
                    "created_at": WHEN,
                }
                for cid, name, email, phone in rows + BYSTANDERS
            ],
        )
    return build_connector(tmp_path, "crm", url), engine


def _ids(engine: sa.Engine, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]  # test-owned text, no input


@pytest.mark.parametrize(("kind", "stored", "searched"), SPELLINGS.values(), ids=SPELLINGS)
def test_a_typed_spelling_is_found_exported_and_erased(
    sql_url: str, tmp_path: Path, kind: str, stored: str, searched: str
) -> None:
    """A customer whose e-mail or phone is stored as typed is found by the normalised value
    (with that value among the identifiers it reveals), exported as stored, and deleted by an
    erasure; the same search then finds nothing, and no bystander is touched."""
    connector, engine = _crm(tmp_path, sql_url, kind, stored)
    column = "email" if kind == EMAIL else "phone"
    identity = Identity({kind: {searched}})
    try:
        found = connector.find(identity)
        assert [r["customer_id"] for r in found.records["customers"]] == ["KH-CUONG"]
        assert found.records["customers"][0][column] == stored
        assert searched in (found.provides.get(kind) or set())

        access = connector.apply(Operation.ACCESS, admit_all(identity), staging=tmp_path / "access")
        assert access.records == 1
        exported = json.loads((tmp_path / "access" / "customers.json").read_text("utf-8"))
        assert [(r["customer_id"], r[column]) for r in exported] == [("KH-CUONG", stored)]

        erased = connector.apply(Operation.ERASE, admit_all(identity), staging=tmp_path / "erase")
        assert [(o.table, o.action, o.count) for o in erased.outcomes] == [
            ("customers", Action.ERASED, 1)
        ]
        assert not erased.remaining
        assert _ids(engine, "SELECT customer_id FROM customers ORDER BY customer_id") == [
            ("KH-B1",),
            ("KH-B2",),
        ]
        assert connector.find(identity).count == 0
    finally:
        connector.close()
        engine.dispose()


@pytest.mark.parametrize(("kind", "stored", "searched"), PHONES.values(), ids=PHONES)
def test_a_typed_phone_on_an_order_is_anonymised(
    sql_url: str, tmp_path: Path, kind: str, stored: str, searched: str
) -> None:
    """A delivered order whose shipping phone is stored as typed is found by the normalised
    number and anonymised by an erasure (amount kept); the same search then finds nothing."""
    engine = sa.create_engine(sql_url)
    create_store(engine, "orders")
    base = {"status": "delivered", "total": Decimal("250000.00"), "created_at": WHEN}
    with engine.begin() as conn:
        conn.execute(
            sa.insert(orders),
            [
                {
                    **base,
                    "order_no": "DH-CUONG",
                    "recipient_name": "Lê Văn Cường",
                    "shipping_address": "1 Lê Lợi, Huế",
                    "shipping_phone": stored,
                },
                {
                    **base,
                    "order_no": "DH-OTHER",
                    "recipient_name": "Phạm Văn Dũng",
                    "shipping_address": "2 Hàng Bài, Hà Nội",
                    "shipping_phone": "0913 111 222",
                },
            ],
        )
    connector = build_connector(tmp_path, "orders", sql_url)
    identity = Identity({kind: {searched}})
    try:
        found = connector.find(identity)
        assert [(r["order_no"], r["shipping_phone"]) for r in found.records["orders"]] == [
            ("DH-CUONG", stored)
        ]
        erased = connector.apply(Operation.ERASE, admit_all(identity), staging=tmp_path / "erase")
        assert ("orders", Action.ANONYMISED, 1) in [
            (o.table, o.action, o.count) for o in erased.outcomes
        ]
        assert not erased.remaining
        sql = "SELECT order_no, recipient_name, shipping_phone, total FROM orders ORDER BY order_no"
        (mine, other) = _ids(engine, sql)
        assert mine[:3] == ("DH-CUONG", REDACTED, None)
        assert Decimal(mine[3]) == base["total"]
        assert other[:3] == ("DH-OTHER", "Phạm Văn Dũng", "0913 111 222")
        assert connector.find(identity).count == 0
    finally:
        connector.close()
        engine.dispose()


def _schema(engine: sa.Engine) -> dict[str, Any]:
    """Every table, view, column, index and trigger the store's database holds."""
    inspector = sa.inspect(engine)
    tables = sorted(inspector.get_table_names())
    triggers = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger'",
        "postgresql": "SELECT trigger_name FROM information_schema.triggers "
        "WHERE event_object_schema = current_schema()",
        "mysql": "SELECT trigger_name FROM information_schema.triggers "
        "WHERE trigger_schema = DATABASE()",
    }[engine.dialect.name]
    with engine.connect() as conn:
        trigger_names = sorted(conn.execute(sa.text(triggers)).scalars())
    return {
        "tables": tables,
        "views": sorted(inspector.get_view_names()),
        "columns": {
            t: [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(t)]
            for t in tables
        },
        "indexes": {
            t: sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(t))
            for t in tables
        },
        "triggers": trigger_names,
    }


@pytest.mark.parametrize("name", SQL_STORES)
def test_the_connector_adds_nothing_to_the_store(sql_url: str, tmp_path: Path, name: str) -> None:
    """Searching, exporting, rectifying and erasing leave the store's schema exactly as its
    product made it: no column, index, trigger, view or table added."""
    h = SQL_STORES[name](tmp_path, sql_url)
    try:
        before = _schema(h.engine)
        policy = admit_all(SUBJECT)
        assert h.connector.find(SUBJECT).count > 0
        h.connector.apply(Operation.ACCESS, policy, staging=tmp_path / "access")
        h.connector.apply(
            Operation.RECTIFY, policy, staging=tmp_path / "rectify", changes={"name": "Nguyễn Á"}
        )
        h.connector.apply(Operation.ERASE, policy, staging=tmp_path / "erase")
        h.engine.dispose()  # a fresh inspection, no cached reflection
        assert _schema(h.engine) == before
    finally:
        h.close()
