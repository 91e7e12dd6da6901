"""Schemas of the demo stores (the company's own systems, not the ledger).

SQLAlchemy Core metadata, so the same tables can be created on SQLite, PostgreSQL and MariaDB
for the connector contract suite. The default ``config/connectors.yaml`` points at these.
They are shaped as the products that own them would shape them: identifiers as people typed
them, with no normalised copy beside them (the connectors match these columns as they are).

The CRM, the list and the order database stamp every row with ``updated_at`` whenever they
write it, as real products do (``updated_at``, ``date_upd``, ``write_date``): the identifier
index then catches up on the rows changed since it last looked. The call archive is a PBX's:
FreePBX's ``asteriskcdrdb.cdr`` (one row per call leg, written once when the call ends, no
primary key, ``uniqueid`` indexed), whose ``recordingfile`` names the call's WAV file.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)


def stamp() -> datetime:
    """Now, as the stores keep time (naive UTC): the value of an ``updated_at`` on a write."""
    return datetime.now(UTC).replace(tzinfo=None)


def _updated_at() -> Column[datetime]:
    # Set by whoever writes the row through these tables (insert and update); the seed sets
    # it itself. Never NULL: a row without a stamp would never be caught up on.
    return Column("updated_at", DateTime, nullable=False, default=stamp, onupdate=stamp, index=True)


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
    _updated_at(),
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
    _updated_at(),
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
    _updated_at(),
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


def _text(name: str, length: int) -> Column[str]:
    """A FreePBX text column: ``VARCHAR(n) NOT NULL DEFAULT ''`` (empty, never NULL)."""
    return Column(name, String(length), nullable=False, server_default="")


def _number(name: str) -> Column[int]:
    return Column(name, Integer, nullable=False, server_default="0")


# FreePBX's asteriskcdrdb.cdr (framework installlib/SQL/cdr.sql, completed by the cdr module's
# install.php): the same columns, defaults and keys, in portable types.
recordings = MetaData()
cdr = Table(
    "cdr",
    recordings,
    Column("calldate", DateTime, nullable=False),  # when the call started (naive UTC here)
    _text("clid", 80),  # caller id as the PBX shows it: "NAME" <number>
    _text("src", 80),  # the calling number (a customer calling in, an extension calling out)
    _text("dst", 80),  # the number or extension called
    _text("dcontext", 80),
    _text("channel", 80),
    _text("dstchannel", 80),
    _text("lastapp", 80),
    _text("lastdata", 80),
    _number("duration"),  # seconds from start to hang-up
    _number("billsec"),  # seconds from answer to hang-up
    _text("disposition", 45),  # ANSWERED, NO ANSWER, BUSY, FAILED (CONGESTION, CANCEL)
    _number("amaflags"),
    _text("accountcode", 20),
    _text("uniqueid", 32),  # the call leg's id (epoch.sequence); unique in the demo data
    _text("userfield", 255),
    _text("did", 50),  # the company number a customer dialled
    _text("recordingfile", 255),  # the recording, relative to the monitor folder ('' if none)
    _text("cnum", 80),
    _text("cnam", 80),
    _text("outbound_cnum", 80),
    _text("outbound_cnam", 80),
    _text("dst_cnam", 80),
    _text("linkedid", 32),  # the legs of one call share it
    _text("peeraccount", 80),
    _number("sequence"),
    Index("calldate", "calldate"),
    Index("dst", "dst"),
    Index("accountcode", "accountcode"),
    Index("uniqueid", "uniqueid"),
    Index("did", "did"),
    Index("recordingfile", "recordingfile"),
)

STORES: dict[str, MetaData] = {
    "crm": crm,
    "newsletter": newsletter,
    "orders": orders_db,
    "recordings": recordings,
}

__all__ = [
    "STORES",
    "cdr",
    "create_store",
    "customers",
    "order_items",
    "orders",
    "stamp",
    "subscribers",
    "suppression",
]


def create_store(engine: Engine, store: str) -> None:
    """Create a demo store's tables (idempotent)."""
    STORES[store].create_all(engine)
