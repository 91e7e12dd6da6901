"""One record read by key for staff review (``SqlStore.describe``), on every engine."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from connectors.base import Describes, RecordSummary
from tests.connectors.stores import A_NAME, make_crm


def test_a_record_is_described_by_its_key_with_the_configured_columns(
    sql_url: str, tmp_path: Path
) -> None:
    """The CRM row's name, every identifier its match columns hold (normalised), the account's
    creation and last activity (``review`` in connectors.yaml) and its last write; a key that
    names nothing is "not present", a table the store does not configure cannot be described;
    the store is only read."""
    h = make_crm(tmp_path, sql_url)
    try:
        store = h.connector
        assert isinstance(store, Describes)
        before = h.rows("SELECT * FROM customers ORDER BY id")
        key = h.rows("SELECT id FROM customers WHERE customer_id = 'C0002'")[0][0]
        found = store.describe("customers", str(key))
        assert found is not None and found.present
        assert found.name == A_NAME
        assert set(found.identifiers) == {
            ("email", "a.nguyen@work.vn"),
            ("phone", "+84912345678"),
            ("customer_id", "C0002"),
        }
        assert found.created_at == datetime(2021, 9, 15)
        assert found.last_activity_at == datetime(2024, 5, 1)
        assert found.updated_at is not None  # changed_at: the product's last write
        assert store.describe("customers", "999999") == RecordSummary(present=False)
        assert store.describe("customers", "not-a-number") == RecordSummary(present=False)
        assert store.describe("no_such_table", str(key)) is None
        assert h.rows("SELECT * FROM customers ORDER BY id") == before
    finally:
        h.close()
