"""Behaviour specific to the configured SQL stores (orders, newsletter, CRM), on every engine."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.base import Action, Operation, PurgeJob
from connectors.sql import SqlStore, SuppressedAddress
from connectors.sql_tables import REDACTED
from connectors.sql_writes import keyed_hash
from demo.stores import order_items, orders
from dsr.errors import FatalStoreError, InvalidInput, RetriableStoreError
from dsr.identity import CUSTOMER_ID, EMAIL, PHONE, Identity, suppression_hash
from tests.connectors.stores import (
    A_CID,
    A_EMAIL,
    A_EMAIL_RAW,
    A_NAME,
    A_PHONE,
    A_PHONE_RAW,
    B_EMAIL,
    HOLD_EMAIL,
    SECRET,
    SUBJECT,
    admit_all,
    build_connector,
    make_crm,
    make_newsletter,
    make_orders,
    order,
)

ORDER_COLUMNS = (
    "order_no, total, recipient_name, shipping_address, shipping_phone, email, card_last4, status"
)


def test_orders_erase_anonymises_and_keeps_amounts(
    sql_url: str, tmp_path: Path, staging: Path
) -> None:
    """Erasing orders redacts the personal fields, keeps totals and items, and says until when."""
    h = make_orders(tmp_path, sql_url)
    try:
        result = h.connector.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging)
        by_table = {(o.table, o.action): o for o in result.outcomes}
        for key in (("orders", Action.ANONYMISED), ("order_items", Action.RETAINED)):
            assert "Luật Kế toán" in (by_table[key].legal_basis or "")
            # Latest order 2024-02-01: fiscal year ends 2024-12-31, plus 10 years.
            assert by_table[key].retained_until == "2034-12-31"
        rows = h.rows(f"SELECT {ORDER_COLUMNS} FROM orders WHERE order_no = 'A1'")
        assert [Decimal(r[1]) for r in rows] == [Decimal("1500000.00")]
        for r in rows:
            assert r[2:6] == (REDACTED, REDACTED, None, keyed_hash(SECRET, A_EMAIL_RAW))
            assert r[6] == "4242"  # the last four digits are not personal on their own
        assert h.count("order_items") == 4
        bystander = h.rows(f"SELECT {ORDER_COLUMNS} FROM orders WHERE order_no = 'B1'")[0]
        assert bystander[2] != REDACTED and bystander[3] != REDACTED
    finally:
        h.close()


def test_delivered_orders_are_historical_on_rectify(
    sql_url: str, tmp_path: Path, staging: Path
) -> None:
    """Rectify rewrites the undelivered order only; the delivered one is reported as history."""
    h = make_orders(tmp_path, sql_url)
    try:
        result = h.connector.apply(
            Operation.RECTIFY,
            admit_all(SUBJECT),
            staging=staging,
            changes={"phone": "0903 111 222", "email": "x@example.com"},
        )
        historical, updated = result.outcomes
        assert historical.action is Action.HISTORICAL and historical.count == 1
        assert historical.reason == (
            "delivered or returned orders are historical records and are not rewritten"
        )
        assert (updated.action, updated.count, updated.fields) == (Action.UPDATED, 1, ["phone"])
        assert updated.reason == "not held in this store: email"
        rows = h.rows(
            "SELECT order_no, shipping_phone FROM orders "
            "WHERE order_no IN ('A1', 'A2') ORDER BY order_no"
        )
        assert rows == [("A1", A_PHONE_RAW), ("A2", "+84903111222")]
        assert h.connector.recipients == ["ghn", "viettel_post"]
        # The courier holds name, address and phone: only the phone changed for it, on the
        # open order (updated now) and on the delivered one (its copy holds the old number).
        assert [(s.recipient, s.action, s.references, s.fields) for s in result.shared] == [
            ("Giao Hàng Nhanh (GHN)", Action.UPDATED, ["A2"], ["phone"]),
            ("Giao Hàng Nhanh (GHN)", Action.HISTORICAL, ["A1"], ["phone"]),
        ]
    finally:
        h.close()


def test_rectify_of_a_field_no_partner_received_shares_nothing(
    sql_url: str, tmp_path: Path, staging: Path
) -> None:
    """A new e-mail address changes nothing the courier holds: no order is reported shared."""
    h = make_orders(tmp_path, sql_url)
    try:
        result = h.connector.apply(
            Operation.RECTIFY,
            admit_all(SUBJECT),
            staging=staging,
            changes={"email": "x@example.com"},
        )
        assert result.shared == []
        again = h.connector.apply(
            Operation.RECTIFY, admit_all(SUBJECT), staging=staging, changes={"phone": A_PHONE}
        )
        assert again.shared == []  # the value is already current everywhere: nothing to tell
    finally:
        h.close()


def test_erase_reports_the_anonymised_orders_each_partner_received(
    sql_url: str, tmp_path: Path, staging: Path
) -> None:
    """Erasure reports the order numbers per courier, read before they were anonymised."""
    h = make_orders(tmp_path, sql_url)
    try:
        with h.engine.begin() as conn:
            conn.execute(
                # delivered: an open order would be deferred, not erased, and nobody told yet
                sa.text(
                    "UPDATE orders SET delivery_partner = 'Viettel Post', status = 'delivered' "
                    "WHERE order_no = 'A2'"
                )
            )
        result = h.connector.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging)
        shared = sorted((s.recipient or "", s.action, s.references) for s in result.shared)
        assert shared == [
            ("Giao Hàng Nhanh (GHN)", Action.ANONYMISED, ["A1"]),
            ("Viettel Post", Action.ANONYMISED, ["A2"]),
        ]
        assert all(s.fields == ["address", "name", "phone"] for s in result.shared)
        assert result.to_json()["shared"][0]["labels"]["en"] == "Order number"
        second = h.connector.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging)
        assert second.shared == []  # already anonymised: nobody is told twice
    finally:
        h.close()


def test_access_export_is_readable_utf8_with_exact_amounts(
    sql_url: str, tmp_path: Path, staging: Path
) -> None:
    """The JSON export keeps Vietnamese text unescaped, amounts as exact strings, dates ISO."""
    h = make_orders(tmp_path, sql_url)
    try:
        h.connector.apply(Operation.ACCESS, admit_all(SUBJECT), staging=staging)
        text = (staging / "orders.json").read_text("utf-8")
        assert "Nguyễn Văn A" in text
        first = json.loads(text)[0]
        assert first["total"] == "1500000.00" and first["created_at"] == "2023-05-10T14:00:00"
    finally:
        h.close()


def test_newsletter_erase_suppresses_the_address(
    sql_url: str, tmp_path: Path, staging: Path
) -> None:
    """After erasure the address's keyed hash is on the suppression list, once, and imports stop."""
    h = make_newsletter(tmp_path, sql_url)
    store = h.connector
    assert isinstance(store, SqlStore)
    try:
        assert not store.is_suppressed(A_EMAIL_RAW + " ")
        store.check_not_suppressed(A_EMAIL)
        store.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging)
        store.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging)
        assert store.is_suppressed(A_EMAIL) and store.is_suppressed("NGUYEN.VAN.A@gmail.com")
        assert not store.is_suppressed(B_EMAIL)
        with pytest.raises(SuppressedAddress):
            store.check_not_suppressed(A_EMAIL_RAW)
        assert h.rows("SELECT email_hash FROM suppression") == [
            (suppression_hash(A_EMAIL, SECRET),)
        ]
        with pytest.raises(InvalidInput):
            store.is_suppressed("not an address")
    finally:
        h.close()


def test_newsletter_purge_keeps_only_a_hash_of_purged_addresses(
    sql_url: str, tmp_path: Path
) -> None:
    """Unsubscribed entries past retention go, leaving their hash so they are never re-added."""
    h = make_newsletter(tmp_path, sql_url)
    store = h.connector
    assert isinstance(store, SqlStore)
    try:
        h.add_purge_rows()
        store.purge(PurgeJob(h.rule, now=h.purge_now, held=h.held))
        assert store.is_suppressed("old00@example.com")
        assert not store.is_suppressed("loyal@example.com")
        assert not store.is_suppressed(HOLD_EMAIL) and not store.is_suppressed(A_EMAIL)
    finally:
        h.close()


def test_crm_finds_both_accounts_and_expands_the_identity(sql_url: str, tmp_path: Path) -> None:
    """S8: two CRM rows sharing a phone are both found; their ids and addresses are provided."""
    h = make_crm(tmp_path, sql_url)
    try:
        found = h.connector.find(Identity({PHONE: {"84-912-345-678"}}))
        assert [r["customer_id"] for r in found.records["customers"]] == ["C0001", "C0002"]
        assert found.provides.get(CUSTOMER_ID) == {"C0001", "C0002"}
        assert found.provides.get(EMAIL) == {A_EMAIL, "a.nguyen@work.vn"}
        assert found.provides.get(PHONE) == {A_PHONE}
    finally:
        h.close()


def test_rectify_refuses_malformed_values_and_changes_nothing(
    sql_url: str, tmp_path: Path, staging: Path
) -> None:
    """A phone that is not one is InvalidInput before anything is written."""
    h = make_crm(tmp_path, sql_url)
    try:
        before = h.rows("SELECT * FROM customers ORDER BY id")
        with pytest.raises(InvalidInput):
            h.connector.apply(
                Operation.RECTIFY,
                admit_all(SUBJECT),
                staging=staging,
                changes={"phone": "12", "address": "somewhere"},
            )
        assert h.rows("SELECT * FROM customers ORDER BY id") == before
    finally:
        h.close()


def test_missing_table_or_column_is_fatal(sql_url: str, tmp_path: Path) -> None:
    """A store whose schema differs from the YAML fails for good, naming no personal data."""
    store = build_connector(tmp_path, "crm", sql_url)
    try:
        with pytest.raises(FatalStoreError, match="customers does not exist") as missing:
            store.find(SUBJECT)
        assert A_EMAIL not in str(missing.value)
        engine = sa.create_engine(sql_url)
        sa.Table(
            "customers",
            sa.MetaData(),
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("email", sa.String(320)),
        ).create(engine)
        engine.dispose()
        fresh = build_connector(tmp_path, "crm", sql_url)
        with pytest.raises(FatalStoreError, match=r"customers has no column .*phone") as short:
            fresh.find(SUBJECT)
        assert "email" not in str(short.value)  # the column it has is not reported missing
        fresh.close()
    finally:
        store.close()


def test_unreachable_store_is_retriable(tmp_path: Path) -> None:
    """A database that refuses connections is a RetriableStoreError without personal data."""
    store = build_connector(tmp_path, "crm", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    try:
        with pytest.raises(RetriableStoreError) as err:
            store.find(SUBJECT)
        assert A_EMAIL not in str(err.value) and A_PHONE not in str(err.value)
        assert err.value.__cause__ is None and err.value.__suppress_context__
    finally:
        store.close()


def test_open_orders_are_deferred_then_erased_once_delivered(
    sql_url: str, tmp_path: Path, staging: Path
) -> None:
    """An undelivered order keeps its shipping details on erasure and is reported as deferred;
    run again for that record once it is delivered, it is anonymised."""
    from dsr.core.identity.scope import KeysOnly

    h = make_orders(tmp_path, sql_url)
    try:
        first = h.connector.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging)
        assert [(m.table, h.rows(f"SELECT order_no FROM orders WHERE id = {m.key}")[0][0])
                for m in first.deferred] == [("orders", "A2")]  # fmt: skip
        deferred = next(o for o in first.outcomes if o.action is Action.DEFERRED)
        assert "open order" in (deferred.reason or "")
        pending = h.rows("SELECT shipping_address FROM orders WHERE order_no = 'A2'")[0][0]
        assert pending != REDACTED
        key = first.deferred[0].key
        search = Identity({k: {v} for k, v in first.deferred[0].matched})
        again = h.connector.apply(
            Operation.ERASE, KeysOnly(search, frozenset({("orders", key)})), staging=staging
        )
        assert [m.key for m in again.deferred] == [key]  # still pending: still deferred
        with h.engine.begin() as conn:
            conn.execute(sa.text("UPDATE orders SET status = 'delivered' WHERE order_no = 'A2'"))
        done = h.connector.apply(
            Operation.ERASE, KeysOnly(search, frozenset({("orders", key)})), staging=staging
        )
        assert done.deferred == []
        assert ("orders", Action.ANONYMISED, 1) in [
            (o.table, o.action, o.count) for o in done.outcomes
        ]
        assert h.rows("SELECT shipping_address FROM orders WHERE order_no = 'A2'")[0][0] == REDACTED
        bystander = h.rows("SELECT shipping_address FROM orders WHERE order_no = 'B1'")[0][0]
        assert bystander != REDACTED
    finally:
        h.close()


def test_rectify_reports_the_identifiers_it_replaced(
    sql_url: str, tmp_path: Path, staging: Path
) -> None:
    """A rectified phone is reported old -> new with the account it belongs to (the core keeps
    the old one as a former identifier); a value already current reports nothing."""
    h = make_crm(tmp_path, sql_url)
    try:
        result = h.connector.apply(
            Operation.RECTIFY,
            admit_all(Identity({EMAIL: {A_EMAIL}})),
            staging=staging,
            changes={"phone": "0903 111 222"},
        )
        assert [(c.table, c.kind, c.old, c.new) for c in result.changes] == [
            ("customers", PHONE, A_PHONE, "+84903111222")
        ]
        assert dict(result.changes[0].account) == {CUSTOMER_ID: "C0001", EMAIL: A_EMAIL}
        again = h.connector.apply(
            Operation.RECTIFY,
            admit_all(Identity({EMAIL: {A_EMAIL}})),
            staging=staging,
            changes={"phone": "0903 111 222"},
        )
        assert again.changes == []
    finally:
        h.close()


def test_a_subject_with_more_orders_than_one_in_list_gets_every_item(
    sql_url: str, tmp_path: Path, staging: Path
) -> None:
    """Items are read by their orders' keys 1,000 at a time: every one comes back, once; and a
    search by several addresses finds each one's orders."""
    h = make_orders(tmp_path, sql_url)
    try:
        bought = datetime(2023, 1, 1)
        extra = [
            order(
                f"M{i:04}",
                A_CID,
                A_EMAIL_RAW,
                A_NAME,
                A_PHONE_RAW,
                status="delivered",
                total="1.00",
                created=bought,
            )
            for i in range(1201)
        ]
        with h.engine.begin() as conn:
            conn.execute(sa.insert(orders), extra)
            ids = conn.execute(sa.select(orders.c.id).where(orders.c.order_no.like("M%")))
            conn.execute(
                sa.insert(order_items),
                [
                    {
                        "order_id": i,
                        "sku": "SKU-M",
                        "product_name": "Bút bi",
                        "quantity": 1,
                        "unit_price": Decimal("1.00"),
                    }
                    for i in ids.scalars()
                ],
            )
        found = h.connector.find(SUBJECT)
        items = [r["id"] for r in found.records["order_items"]]
        assert len(found.records["orders"]) == 1203
        assert len(items) == 1204 and len(set(items)) == 1204
        result = h.connector.apply(Operation.ACCESS, admit_all(SUBJECT), staging=staging)
        assert ("order_items", Action.EXPORTED, 1204) in [
            (o.table, o.action, o.count) for o in result.outcomes
        ]
        several = Identity({EMAIL: {A_EMAIL, B_EMAIL, "nobody@example.com"}})
        assert len(h.connector.find(several).records["orders"]) == 1204
    finally:
        h.close()
