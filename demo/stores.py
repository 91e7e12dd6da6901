"""Schemas of the demo stores (the company's own systems, not the ledger).

SQLAlchemy Core metadata, so the same tables can be created on SQLite, PostgreSQL and MariaDB
for the connector contract suite. The default ``config/connectors.yaml`` points at these.
They are shaped as the products that own them would shape them: identifiers as people typed
them, with no normalised copy beside them (the connectors match these columns as they are).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

from connectors.recordings_schema import calls as recordings_calls

crm = MetaData()
customers = Table(
    "customers",
    crm,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(32), nullable=False, index=True),
    Column("full_name", String(200), nullable=False),
    Column("email", String(320)),
    Column("phone", String(40)),
    Column("address", String(400)),
    Column("gender", String(16)),
    Column("courses", Text),
    Column("status", String(16), nullable=False, default="active"),
    Column("last_activity_at", DateTime, index=True),
    Column("created_at", DateTime, nullable=False),
)

newsletter = MetaData()
subscribers = Table(
    "subscribers",
    newsletter,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("name", String(200)),
    Column("subscribed_at", DateTime, nullable=False),
    Column("consent_source", String(64)),
    Column("unsubscribed_at", DateTime, index=True),
)
suppression = Table(
    "suppression",
    newsletter,
    Column("email_hash", String(64), primary_key=True),
    Column("added_at", DateTime, nullable=False),
    Column("reason", String(32)),
)

orders_db = MetaData()
orders = Table(
    "orders",
    orders_db,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_no", String(32), nullable=False),
    Column("customer_id", String(32), index=True),
    Column("email", String(320)),
    Column("recipient_name", String(200)),
    Column("shipping_address", String(400)),
    Column("shipping_phone", String(40)),
    Column("status", String(16), nullable=False),
    Column("delivery_partner", String(64)),
    Column("total", Numeric(14, 2), nullable=False),
    Column("payment_method", String(32)),
    Column("card_last4", String(4)),
    Column("created_at", DateTime, nullable=False, index=True),
    Column("delivered_at", DateTime),
)
order_items = Table(
    "order_items",
    orders_db,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", Integer, nullable=False, index=True),
    Column("sku", String(32)),
    Column("product_name", String(200)),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Numeric(14, 2), nullable=False),
)

STORES: dict[str, MetaData] = {"crm": crm, "newsletter": newsletter, "orders": orders_db}

__all__ = [
    "STORES",
    "calls",
    "customers",
    "order_items",
    "orders",
    "subscribers",
    "suppression",
    "create_store",
]

# The archive owns its index schema; the demo fills it.
calls = recordings_calls


def create_store(engine: Engine, store: str) -> None:
    """Create a demo store's tables (idempotent)."""
    STORES[store].create_all(engine)
