"""listmonk (newsletters and mailing lists) on PostgreSQL, as its ``schema.sql`` creates it.

Upstream: knadh/listmonk ``schema.sql`` (commit 911e0b7, July 2026): the enum types
``subscriber_status``, ``subscription_status``, ``list_type``, ``list_optin``, ``list_status``,
the tables ``subscribers``, ``lists`` and ``subscriber_lists`` with their columns, defaults,
constraints (``subscriber_lists``' foreign keys cascade) and indexes, among them
``idx_subs_email``: UNIQUE on ``LOWER(email)``. The other tables of that file (campaigns,
templates, media, links, settings...) hold no subscriber's identifier and are left out, and so
is the ``pgcrypto`` extension the file creates for them.

How identifiers are spelled here: listmonk's own API lower-cases and trims an address
(``internal/subimporter``: ``ValidateFields``), but lists are also loaded straight into
PostgreSQL from older tools; these rows were. So ``email`` keeps the case and spaces it was
imported with: ``Le.Van.Cuong@Example.VN``, `` thu.ha.nguyen@gmail.com ``. The unique index on
``LOWER(email)`` folds case but not spaces: Cường is subscribed twice, as
``Le.Van.Cuong@Example.VN`` and, from a second import, as `` le.van.cuong@example.vn``; so is Hà.
``name`` is NFC, NFD or without diacritics. ``attribs`` (JSON) carries a phone in any notation
and a city: personal data, but not a column the connector can search by.

``subscriber_lists`` has no single-column key: its rows are addressed with their subscriber's
(``key: subscriber_id``), one row per list.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.dialects import postgresql as pg

from tests.products import bulk
from tests.products.bulk import Rows
from tests.products.people import (
    CUONG,
    EMAIL,
    HA,
    HA_DECOY,
    NAMESAKE,
    NOW,
    OTHER_DOMAIN,
    SEED,
    Person,
    Population,
    Recorder,
    Seeded,
    ascii_fold,
    email_spellings,
    nfd,
    phone_spellings,
)

PRODUCT = "listmonk"

metadata = sa.MetaData()

subscriber_status = pg.ENUM(
    "enabled", "disabled", "blocklisted", name="subscriber_status", metadata=metadata
)
subscription_status = pg.ENUM(
    "unconfirmed", "confirmed", "unsubscribed", name="subscription_status", metadata=metadata
)
list_type = pg.ENUM("public", "private", "temporary", name="list_type", metadata=metadata)
list_optin = pg.ENUM("single", "double", name="list_optin", metadata=metadata)
list_status = pg.ENUM("active", "archived", name="list_status", metadata=metadata)
_NOW = sa.text("NOW()")
_EMPTY = sa.text("'{}'")

subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),  # SERIAL
    sa.Column("uuid", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("email", sa.Text, nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("attribs", pg.JSONB, nullable=False, server_default=_EMPTY),
    sa.Column("status", subscriber_status, nullable=False, server_default="enabled"),
    sa.Column("created_at", sa.TIMESTAMP(timezone=True), server_default=_NOW),
    sa.Column("updated_at", sa.TIMESTAMP(timezone=True), server_default=_NOW),
)
sa.Index("idx_subs_email", sa.func.lower(subscribers.c.email), unique=True)
sa.Index("idx_subs_status", subscribers.c.status)
sa.Index("idx_subs_id_status", subscribers.c.id, subscribers.c.status)
sa.Index("idx_subs_created_at", subscribers.c.created_at)
sa.Index("idx_subs_updated_at", subscribers.c.updated_at)

lists = sa.Table(
    "lists",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),  # SERIAL
    sa.Column("uuid", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("type", list_type, nullable=False),
    sa.Column("optin", list_optin, nullable=False, server_default="single"),
    sa.Column("status", list_status, nullable=False, server_default="active"),
    sa.Column("tags", pg.ARRAY(sa.VARCHAR(100))),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", sa.TIMESTAMP(timezone=True), server_default=_NOW),
    sa.Column("updated_at", sa.TIMESTAMP(timezone=True), server_default=_NOW),
)
sa.Index("idx_lists_type", lists.c.type)
sa.Index("idx_lists_optin", lists.c.optin)
sa.Index("idx_lists_status", lists.c.status)
sa.Index("idx_lists_name", lists.c.name)
sa.Index("idx_lists_created_at", lists.c.created_at)
sa.Index("idx_lists_updated_at", lists.c.updated_at)

subscriber_lists = sa.Table(
    "subscriber_lists",
    metadata,
    sa.Column(
        "subscriber_id",
        sa.Integer,
        sa.ForeignKey("subscribers.id", ondelete="CASCADE", onupdate="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column(
        "list_id",
        sa.Integer,
        sa.ForeignKey("lists.id", ondelete="CASCADE", onupdate="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("meta", pg.JSONB, nullable=False, server_default=_EMPTY),
    sa.Column("status", subscription_status, nullable=False, server_default="unconfirmed"),
    sa.Column("created_at", sa.TIMESTAMP(timezone=True), server_default=_NOW),
    sa.Column("updated_at", sa.TIMESTAMP(timezone=True), server_default=_NOW),
)
sa.Index("idx_sub_lists_sub_id", subscriber_lists.c.subscriber_id)
sa.Index("idx_sub_lists_list_id", subscriber_lists.c.list_id)
sa.Index("idx_sub_lists_status", subscriber_lists.c.status)

TABLES = (subscribers, lists, subscriber_lists)
IDENTIFIER_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {"subscribers": {EMAIL: ("email",)}}
NAME_COLUMNS: dict[str, tuple[str, ...]] = {"subscribers": ("name",)}

ENTRY = """\
name: listmonk
kind: sql
url: "postgresql+psycopg://postgres@127.0.0.1:5432/products"
labels: {vi: "Danh sách nhận bản tin (listmonk)", en: "Newsletter lists (listmonk)"}
tables:
  # One row per address (listmonk's unique index is on LOWER(email): case folds, spaces do not).
  - name: subscribers
    key: id
    match: {email: email}
    provides: {name: name}
    owner: [email]
    changed_at: updated_at
    collected_at: created_at
    rectifiable: {name: name, email: email}
    erase: {mode: delete}
  # The lists an address is on (confirmed, unconfirmed, unsubscribed); no key of its own.
  - name: subscriber_lists
    key: subscriber_id
    parent: {table: subscribers, column: subscriber_id}
    collected_at: created_at
    erase: {mode: delete}
"""


def entry(url: str) -> dict[str, Any]:
    """This product's ``connectors.yaml`` entry, pointed at ``url``."""
    data: dict[str, Any] = yaml.safe_load(ENTRY)
    data["url"] = url
    return data


def create_tables(engine: sa.Engine) -> None:
    """Drop (if there) and create the upstream tables and types, with upstream's indexes."""
    drop_tables(engine)
    metadata.create_all(engine)


def drop_tables(engine: sa.Engine) -> None:
    metadata.drop_all(engine)  # the enum types too: they belong to the metadata


# -- rows -----------------------------------------------------------------------------------------

_LISTS = (
    ("Bản tin khuyến mãi hằng tuần", "public", "single", ["khuyen-mai"]),
    ("Khách hàng thân thiết", "private", "double", ["vip"]),
    ("Sản phẩm mới", "public", "double", ["san-pham"]),
    ("Sự kiện tại Huế", "private", "single", ["hue", "su-kien"]),
)


class _Newsletter:
    def __init__(self, pop: Population, rec: Recorder) -> None:
        self.pop, self.rec, self.rng = pop, rec, pop.rng
        self.subscriber_id = 0
        self.rows: Rows = {}

    def take(self) -> Rows:
        rows, self.rows = self.rows, {}
        return rows

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def lists(self) -> None:
        created = datetime(2021, 3, 1, 2, 0, tzinfo=UTC)
        for i, (name, kind, optin, tags) in enumerate(_LISTS, start=1):
            self.rows.setdefault("lists", []).append(
                {
                    "id": i,
                    "uuid": self._uuid(),
                    "name": name,
                    "type": kind,
                    "optin": optin,
                    "status": "active",
                    "tags": tags,
                    "description": "",
                    "created_at": created,
                    "updated_at": created,
                }
            )

    def subscriber(
        self,
        email: str,
        name: str,
        attribs: dict[str, Any],
        created: datetime,
        subscriptions: list[tuple[int, str]],
        *,
        status: str = "enabled",
        owner: Person | None = None,
    ) -> int:
        """An address and the lists it is on (list id, subscription status)."""
        self.subscriber_id += 1
        sid = self.subscriber_id
        created = created.replace(tzinfo=UTC)
        updated = created + timedelta(days=self.rng.randrange(0, 400))
        updated = min(updated, NOW.replace(tzinfo=UTC))
        self.rows.setdefault("subscribers", []).append(
            {
                "id": sid,
                "uuid": self._uuid(),
                "email": email,
                "name": name,
                "attribs": attribs,
                "status": status,
                "created_at": created,
                "updated_at": updated,
            }
        )
        if owner is not None:
            self.rec.own(owner, "subscribers", sid, (EMAIL,))
        for list_id, state in subscriptions:
            self.rows.setdefault("subscriber_lists", []).append(
                {
                    "subscriber_id": sid,
                    "list_id": list_id,
                    "meta": {},
                    "status": state,
                    "created_at": created,
                    "updated_at": updated if state == "unsubscribed" else created,
                }
            )
            if owner is not None:
                self.rec.own(owner, "subscriber_lists", sid, (EMAIL,))
        return sid

    def subscriptions(self) -> list[tuple[int, str]]:
        rng = self.rng
        ids = rng.sample(range(1, len(_LISTS) + 1), rng.choice((1, 1, 2, 3)))
        states = ("confirmed", "confirmed", "confirmed", "unconfirmed", "unsubscribed")
        return [(i, rng.choice(states)) for i in sorted(ids)]

    def customer(self, person: Person) -> None:
        pop, rng = self.pop, self.rng
        attribs: dict[str, Any] = {"city": person.city}
        if rng.random() < 0.6:
            attribs["phone"] = pop.phone(person.phone)
        self.subscriber(
            # Imported as typed; the LOWER(email) index must still be unique, so no space games.
            rng.choice((person.email, person.email, email_spellings(person.email)[1])),
            pop.name(person.name),
            attribs,
            pop.moment(datetime(2021, 3, 1)),
            self.subscriptions(),
            status="blocklisted" if rng.random() < 0.02 else "enabled",
        )


def _known(news: _Newsletter) -> None:
    news.lists()
    e, p = email_spellings(CUONG.email), phone_spellings(CUONG.phone)
    news.subscriber(
        e[1],  # Le.Van.Cuong@Example.VN
        nfd(CUONG.name),
        {"phone": p[2], "city": "Huế", "source": "woocommerce"},
        datetime(2024, 1, 8, 14, 5, 0),
        [(1, "confirmed"), (4, "unsubscribed")],
        owner=CUONG,
    )
    news.subscriber(
        e[5],  # " le.van.cuong@example.vn": a second import; the unique LOWER() sees a new one
        ascii_fold(CUONG.name),
        {"phone": p[4], "source": "hoi-cho-2025.csv"},
        datetime(2025, 4, 20, 9, 30, 0),
        [(3, "unconfirmed")],
        owner=CUONG,
    )
    e, p = email_spellings(HA.email), phone_spellings(HA.phone)
    news.subscriber(
        e[3],  # " thu.ha.nguyen@gmail.com "
        HA.name,
        {"phone": p[1], "city": "Singapore"},
        datetime(2025, 2, 1, 7, 5, 0),
        [(1, "confirmed"), (2, "confirmed")],
        owner=HA,
    )
    news.subscriber(
        e[1],  # Thu.Ha.Nguyen@Gmail.com
        nfd(HA.name),
        {},
        datetime(2026, 6, 1, 12, 0, 0),
        [(3, "unsubscribed")],
        owner=HA,
    )
    # Decoys: near-miss addresses, never a known subject's.
    for decoy, spelled in (
        (NAMESAKE, "LeVanCuong88@gmail.com"),
        (OTHER_DOMAIN, "Le.Van.Cuong@Example.com"),
        (HA_DECOY, "thu.ha.nguyen@gmail.com.vn"),
    ):
        news.subscriber(spelled, decoy.name, {}, datetime(2025, 5, 5), [(1, "confirmed")])
    news.subscriber(
        "levancuong@example.vn", "Lê Văn Cương", {}, datetime(2024, 7, 7), [(2, "confirmed")]
    )


def _batches(news: _Newsletter, people: int, batch: int) -> Iterator[Rows]:
    _known(news)
    yield news.take()
    done = 0
    while done < people:
        n = min(batch, people - done)
        for person in news.pop.people(n):
            news.customer(person)
        done += n
        yield news.take()


def _reset_sequences(engine: sa.Engine) -> None:
    """Rows were written with explicit ids: move the SERIAL sequences past them."""
    with engine.begin() as conn:
        for table in ("subscribers", "lists"):
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                )
            )


def fill(engine: sa.Engine, people: int = 200, *, seed: int = SEED, batch: int = 5000) -> Seeded:
    """Write the lists, the known subjects, the decoys and ``people`` synthetic subscribers."""
    rec = Recorder(PRODUCT)
    news = _Newsletter(Population(seed), rec)
    counts = bulk.load(engine, TABLES, _batches(news, people, batch))
    _reset_sequences(engine)
    return rec.seeded(counts)


def scale(engine: sa.Engine, customers: int, *, seed: int = SEED, batch: int = 50_000) -> Seeded:
    """Create the tables anew and bulk-insert ``customers`` subscribers (10,000 to 1,000,000)."""
    create_tables(engine)
    with bulk.indexes_deferred(engine, TABLES):
        return fill(engine, customers, seed=seed, batch=batch)
