"""Odoo 17 contacts and sales orders on PostgreSQL, as the Odoo ORM creates their tables.

Upstream: Odoo 17.0's field definitions, read in DSub23243/odoo_17_ghn at a8cc238 (a copy of
the 17.0 branch) ``odoo/addons/base/models/res_partner.py`` (``res.partner``) and
``addons/sale/models/sale_order.py`` (``sale.order``), compared with odoo/odoo master
``odoo/addons/base/models/res_partner.py`` at 0002184, where ``res.partner`` has lost
``mobile``; the ORM's DDL rules from odoo/odoo ``odoo/tools/sql.py`` at 00416bd
(``create_model_table``: ``id SERIAL NOT NULL``, ``PRIMARY KEY(id)``; ``make_index_name``:
``<table>__<column>_index``; ``create_index``). The ORM maps ``Char`` to ``VARCHAR``, ``Html`` and
``Text`` to ``TEXT``, ``Boolean`` to ``BOOLEAN``, ``Date`` to ``DATE``, ``Datetime`` to
``TIMESTAMP`` (without time zone, UTC), ``Many2one`` to ``INTEGER`` with a foreign key (``ON
DELETE SET NULL``, ``RESTRICT`` when required), ``Monetary`` and ``Float`` with digits to
``NUMERIC``, other ``Float`` to ``DOUBLE PRECISION``; ``required=True`` to ``NOT NULL``; every
model gets ``create_uid``, ``create_date``, ``write_uid`` and ``write_date``. ``index=True``
is a btree index; ``index='trigram'`` a GIN ``gin_trgm_ops`` index when the database has
``pg_trgm``, a btree one here otherwise. ``_sql_constraints`` become ``<table>_<name>`` CHECKs.

Kept: the columns a DSR system cares about (names, e-mail, phones, address, the partner links
of an order, state, dates, amounts) and a few realistic others. Left out: columns of modules
not modelled here (``mail`` adds ``email_normalized`` and ``message_main_attachment_id``,
``account`` adds ``credit_limit``...) and foreign keys to tables not created (companies, users,
countries, currencies): the ids are there, the constraints are not.

How identifiers are spelled here: Odoo stores what was typed. ``email`` in any case with
spaces; ``phone`` and ``mobile`` in every notation (``0903-111-222``, ``+84903111222``,
``84 903 111 222``, ``+65 9123 4567``, ``001 415 555 2671``); ``name`` NFC, NFD, in capitals
or without diacritics. Cường is a contact with a delivery and an invoice address (child
contacts, ``parent_id``), plus a duplicate contact the website's sign-up created; his wife's
contact has his home number as ``phone`` (a search by his number finds her and her orders too:
``Subject.hits``). Sales orders hang off their ``partner_id`` (the child table of the entry).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
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
    KHOA,
    LAN,
    NAMESAKE,
    NOW,
    OTHER_DOMAIN,
    PHONE,
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

PRODUCT = "odoo"
COMPANY_ID = 1  # res.company 1 ("YourCompany"), whose partner is res_partner 1

metadata = sa.MetaData()


def _magic() -> list[sa.Column[Any]]:
    """The columns the ORM adds to every model's table."""
    return [
        sa.Column("create_uid", sa.Integer),
        sa.Column("create_date", pg.TIMESTAMP()),
        sa.Column("write_uid", sa.Integer),
        sa.Column("write_date", pg.TIMESTAMP()),
    ]


res_partner = sa.Table(
    "res_partner",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),  # SERIAL NOT NULL
    sa.Column("name", sa.VARCHAR()),
    sa.Column("complete_name", sa.VARCHAR()),
    sa.Column("title", sa.Integer),
    sa.Column(
        "parent_id",
        sa.Integer,
        sa.ForeignKey("res_partner.id", ondelete="SET NULL", name="res_partner_parent_id_fkey"),
    ),
    sa.Column("ref", sa.VARCHAR()),
    sa.Column("lang", sa.VARCHAR()),
    sa.Column("tz", sa.VARCHAR()),
    sa.Column("user_id", sa.Integer),
    sa.Column("vat", sa.VARCHAR()),
    sa.Column("company_registry", sa.VARCHAR()),
    sa.Column("website", sa.VARCHAR()),
    sa.Column("comment", sa.Text),
    sa.Column("active", sa.Boolean),
    sa.Column("employee", sa.Boolean),
    sa.Column("function", sa.VARCHAR()),
    sa.Column("type", sa.VARCHAR()),
    sa.Column("street", sa.VARCHAR()),
    sa.Column("street2", sa.VARCHAR()),
    sa.Column("zip", sa.VARCHAR()),
    sa.Column("city", sa.VARCHAR()),
    sa.Column("state_id", sa.Integer),
    sa.Column("country_id", sa.Integer),
    sa.Column("partner_latitude", sa.NUMERIC()),
    sa.Column("partner_longitude", sa.NUMERIC()),
    sa.Column("email", sa.VARCHAR()),
    sa.Column("phone", sa.VARCHAR()),
    sa.Column("mobile", sa.VARCHAR()),
    sa.Column("is_company", sa.Boolean),
    sa.Column("industry_id", sa.Integer),
    sa.Column("company_id", sa.Integer),
    sa.Column("color", sa.Integer),
    sa.Column("partner_share", sa.Boolean),
    sa.Column(
        "commercial_partner_id",
        sa.Integer,
        sa.ForeignKey(
            "res_partner.id", ondelete="SET NULL", name="res_partner_commercial_partner_id_fkey"
        ),
    ),
    sa.Column("commercial_company_name", sa.VARCHAR()),
    sa.Column("company_name", sa.VARCHAR()),
    sa.Column("date", sa.Date),
    *_magic(),
    sa.CheckConstraint(
        "(type='contact' AND name IS NOT NULL) or (type!='contact')", name="res_partner_check_name"
    ),
)
for _column in ("name", "complete_name", "date", "parent_id", "ref", "vat", "company_id"):
    sa.Index(f"res_partner__{_column}_index", res_partner.c[_column])
sa.Index("res_partner__commercial_partner_id_index", res_partner.c.commercial_partner_id)

sale_order = sa.Table(
    "sale_order",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),  # SERIAL NOT NULL
    sa.Column("name", sa.VARCHAR(), nullable=False),
    sa.Column("company_id", sa.Integer, nullable=False),
    sa.Column(
        "partner_id",
        sa.Integer,
        sa.ForeignKey("res_partner.id", ondelete="RESTRICT", name="sale_order_partner_id_fkey"),
        nullable=False,
    ),
    sa.Column("state", sa.VARCHAR()),
    sa.Column("locked", sa.Boolean),
    sa.Column("client_order_ref", sa.VARCHAR()),
    sa.Column("commitment_date", pg.TIMESTAMP()),
    sa.Column("date_order", pg.TIMESTAMP(), nullable=False),
    sa.Column("origin", sa.VARCHAR()),
    sa.Column("reference", sa.VARCHAR()),
    sa.Column("require_signature", sa.Boolean),
    sa.Column("require_payment", sa.Boolean),
    sa.Column("prepayment_percent", pg.DOUBLE_PRECISION()),
    sa.Column("signed_by", sa.VARCHAR()),
    sa.Column("signed_on", pg.TIMESTAMP()),
    sa.Column("validity_date", sa.Date),
    sa.Column("note", sa.Text),
    sa.Column(
        "partner_invoice_id",
        sa.Integer,
        sa.ForeignKey(
            "res_partner.id", ondelete="RESTRICT", name="sale_order_partner_invoice_id_fkey"
        ),
        nullable=False,
    ),
    sa.Column(
        "partner_shipping_id",
        sa.Integer,
        sa.ForeignKey(
            "res_partner.id", ondelete="RESTRICT", name="sale_order_partner_shipping_id_fkey"
        ),
        nullable=False,
    ),
    sa.Column("pricelist_id", sa.Integer),
    sa.Column("currency_id", sa.Integer),
    sa.Column("currency_rate", sa.NUMERIC()),
    sa.Column("user_id", sa.Integer),
    sa.Column("team_id", sa.Integer),
    sa.Column("amount_untaxed", sa.NUMERIC()),
    sa.Column("amount_tax", sa.NUMERIC()),
    sa.Column("amount_total", sa.NUMERIC()),
    sa.Column("amount_to_invoice", sa.NUMERIC()),
    sa.Column("invoice_status", sa.VARCHAR()),
    sa.Column("access_token", sa.VARCHAR()),  # portal.mixin
    *_magic(),
    sa.CheckConstraint(
        "(state = 'sale' AND date_order IS NOT NULL) OR state != 'sale'",
        name="sale_order_date_order_conditional_required",
    ),
)
for _column in ("name", "company_id", "partner_id", "state", "create_date", "user_id"):
    sa.Index(f"sale_order__{_column}_index", sale_order.c[_column])
sa.Index("sale_order_date_order_id_idx", sale_order.c.date_order.desc(), sale_order.c.id.desc())

TABLES = (res_partner, sale_order)
IDENTIFIER_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "res_partner": {EMAIL: ("email",), PHONE: ("phone", "mobile")},
}
NAME_COLUMNS: dict[str, tuple[str, ...]] = {"res_partner": ("name",)}

ENTRY = """\
name: odoo
kind: sql
url: "postgresql+psycopg://postgres@127.0.0.1:5432/products"
labels: {vi: "Khách hàng và đơn bán (Odoo)", en: "Customers and sales orders (Odoo)"}
tables:
  # Contacts: people, their delivery and invoice addresses (child contacts), companies.
  - name: res_partner
    key: id
    match: {email: email, phone: [phone, mobile]}
    provides: {email: email, phone: phone, name: name}
    owner: [email]
    changed_at: write_date
    collected_at: create_date
    rectifiable: {name: name, email: email, phone: phone, address: street}
    # Sales orders and invoices point at the contact (ON DELETE RESTRICT): it is anonymised,
    # never deleted.
    erase:
      mode: anonymise
      columns:
        name: redact
        complete_name: redact
        email: "null"
        phone: "null"
        mobile: "null"
        street: redact
        street2: "null"
        zip: "null"
        vat: "null"
        comment: "null"
        website: "null"
        function: "null"
        partner_latitude: "null"
        partner_longitude: "null"
      legal_basis: &accounting >-
        Luật Kế toán 2015, Điều 41: chứng từ kế toán lưu trữ 10 năm (Vietnam Law on
        Accounting 2015, Art. 41: accounting records kept 10 years)
  # A contact's sales orders: amounts and references only (the addresses are contacts).
  - name: sale_order
    key: id
    parent: {table: res_partner, column: partner_id}
    collected_at: date_order
    erase:
      mode: keep
      legal_basis: *accounting
      retention: {years: 10, from: date_order, fiscal_year_end: true}
"""


def entry(url: str) -> dict[str, Any]:
    """This product's ``connectors.yaml`` entry, pointed at ``url``."""
    data: dict[str, Any] = yaml.safe_load(ENTRY)
    data["url"] = url
    return data


def create_tables(engine: sa.Engine) -> None:
    """Drop (if there) and create the tables, with the ORM's indexes and constraints."""
    drop_tables(engine)
    metadata.create_all(engine)
    _trigram_name_index(engine)


def _trigram_name_index(engine: sa.Engine) -> None:
    """``sale.order.name`` is ``index='trigram'``: GIN ``gin_trgm_ops`` where the database has
    ``pg_trgm`` (the metadata's btree index stays otherwise)."""
    with engine.begin() as conn:
        if conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
            conn.execute(sa.text('DROP INDEX "sale_order__name_index"'))
            conn.execute(
                sa.text(
                    'CREATE INDEX "sale_order__name_index" ON "sale_order" '
                    'USING gin ("name" gin_trgm_ops)'
                )
            )


def drop_tables(engine: sa.Engine) -> None:
    metadata.drop_all(engine)


# -- rows -----------------------------------------------------------------------------------------

_COUNTRY = {"VN": 241, "SG": 197, "US": 233}  # res_country ids of Odoo's base data
_STATES = (("sale", 70), ("draft", 12), ("sent", 8), ("cancel", 10))


class _Erp:
    def __init__(self, pop: Population, rec: Recorder) -> None:
        self.pop, self.rec, self.rng = pop, rec, pop.rng
        self.partner_id = 0
        self.order_id = 0
        self.rows: Rows = {}
        self.names: dict[int, str | None] = {}  # partner id -> name, this batch's partners
        # partner id -> the known subjects (and kinds) a search reaches it by, for its orders
        self.reached: dict[int, list[tuple[Person, tuple[str, ...]]]] = {}

    def take(self) -> Rows:
        rows, self.rows = self.rows, {}
        return rows

    def partner(
        self,
        name: str | None,
        *,
        email: str | None,
        phone: str | None,
        mobile: str | None,
        street: str,
        city: str,
        country: str,
        created: datetime,
        kind: str = "contact",
        parent: int | None = None,
        is_company: bool = False,
        owner: Person | None = None,
        holds: tuple[tuple[Person, tuple[str, ...]], ...] = (),
    ) -> int:
        """A contact; ``owner``: a known subject's (found by their e-mail and phone); ``holds``:
        known subjects whose identifiers (of those kinds) this other person's contact holds."""
        self.partner_id += 1
        pid = self.partner_id
        self.names[pid] = name
        complete = name or ""
        if parent is not None:  # Odoo's complete_name: "Parent, Child" ("Parent, Delivery")
            label = {"invoice": "Invoice", "delivery": "Delivery"}.get(kind, "")
            complete = f"{self.names.get(parent) or ''}, {name or label}"
        written = min(created + timedelta(days=self.rng.randrange(0, 300)), NOW)
        self.rows.setdefault("res_partner", []).append(
            {
                "id": pid,
                "name": name,
                "complete_name": complete,
                "title": None,
                "parent_id": parent,
                "ref": None,
                "lang": "vi_VN" if country == "VN" else "en_US",
                "tz": "Asia/Ho_Chi_Minh" if country == "VN" else None,
                "user_id": None,
                "vat": None,
                "company_registry": None,
                "website": None,
                "comment": None,
                "active": True,
                "employee": False,
                "function": None,
                "type": kind,
                "street": street,
                "street2": None,
                "zip": None,
                "city": city,
                "state_id": None,
                "country_id": _COUNTRY.get(country),
                "partner_latitude": None,
                "partner_longitude": None,
                "email": email,
                "phone": phone,
                "mobile": mobile,
                "is_company": is_company,
                "industry_id": None,
                "company_id": None,
                "color": 0,
                "partner_share": True,
                "commercial_partner_id": pid if parent is None else parent,
                "commercial_company_name": None,
                "company_name": None,
                "date": None,
                "create_uid": 2,
                "create_date": created,
                "write_uid": 2,
                "write_date": written,
            }
        )
        reached: list[tuple[Person, tuple[str, ...]]] = []
        if owner is not None:
            via = tuple(k for k, v in ((EMAIL, email), (PHONE, phone or mobile)) if v)
            self.rec.own(owner, "res_partner", pid, via)
            reached.append((owner, via))
        for person, kinds in holds:
            self.rec.hit(person, "res_partner", pid, kinds)
            reached.append((person, kinds))
        self.reached[pid] = reached
        return pid

    def order(
        self,
        partner: int,
        *,
        invoice: int | None = None,
        shipping: int | None = None,
        ordered: datetime,
        state: str,
        owner: Person | None = None,
    ) -> int:
        """A sales order of ``partner`` (found through it: the entry's child table)."""
        rng = self.rng
        self.order_id += 1
        oid = self.order_id
        untaxed = Decimal(rng.randrange(20, 3000) * 10_000)
        tax = untaxed * Decimal("0.08")
        self.rows.setdefault("sale_order", []).append(
            {
                "id": oid,
                "name": f"S{oid:05d}",
                "company_id": COMPANY_ID,
                "partner_id": partner,
                "state": state,
                "locked": False,
                "client_order_ref": None,
                "commitment_date": None,
                "date_order": ordered,
                "origin": None,
                "reference": None,
                "require_signature": False,
                "require_payment": True,
                "prepayment_percent": 1.0,
                "signed_by": None,
                "signed_on": None,
                "validity_date": (ordered + timedelta(days=30)).date(),
                "note": None,
                "partner_invoice_id": invoice or partner,
                "partner_shipping_id": shipping or partner,
                "pricelist_id": 1,
                "currency_id": 23,  # VND in Odoo's base data
                "currency_rate": Decimal("1.0"),
                "user_id": 2,
                "team_id": 1,
                "amount_untaxed": untaxed,
                "amount_tax": tax,
                "amount_total": untaxed + tax,
                "amount_to_invoice": untaxed + tax if state == "sale" else Decimal(0),
                "invoice_status": "to invoice" if state == "sale" else "no",
                "access_token": f"{rng.getrandbits(128):032x}",
                "create_uid": 2,
                "create_date": ordered,
                "write_uid": 2,
                "write_date": min(ordered + timedelta(hours=rng.randrange(1, 200)), NOW),
            }
        )
        for person, kinds in self.reached.get(partner, ()):
            if person is owner:
                self.rec.own(person, "sale_order", oid, kinds)
            else:
                self.rec.hit(person, "sale_order", oid, kinds)
        return oid

    def customer(self, person: Person) -> None:
        pop, rng = self.pop, self.rng
        created = pop.moment(datetime(2020, 1, 1))
        pid = self.partner(
            pop.name(person.name),
            email=pop.email(person.email) if rng.random() < 0.9 else None,
            phone=pop.phone(person.phone) if rng.random() < 0.7 else None,
            mobile=pop.phone(person.phone) if rng.random() < 0.4 else None,
            street=person.street,
            city=person.city,
            country=person.country,
            created=created,
        )
        shipping = None
        if rng.random() < 0.2:
            shipping = self.partner(
                None,
                email=None,
                phone=pop.phone(person.phone),
                mobile=None,
                street=pop.rng.choice(pop.streets),
                city=person.city,
                country=person.country,
                created=created,
                kind="delivery",
                parent=pid,
            )
        for _ in range(rng.choice((0, 1, 1, 2))):
            state = rng.choices([s for s, _ in _STATES], [w for _, w in _STATES])[0]
            self.order(pid, shipping=shipping, ordered=pop.moment(created), state=state)


def _known(erp: _Erp) -> None:
    """Odoo's own partners, the known subjects and the decoys, written by hand."""
    base = datetime(2023, 1, 2, 8, 0, 0)
    erp.partner(
        "YourCompany",
        email="info@yourcompany.example.com",
        phone="+84 28 3822 1234",
        mobile=None,
        street="1 Nguyễn Huệ",
        city="Thành phố Hồ Chí Minh",
        country="VN",
        created=base,
        is_company=True,
    )
    erp.partner(
        "Administrator",
        email="admin@yourcompany.example.com",
        phone=None,
        mobile=None,
        street="1 Nguyễn Huệ",
        city="Thành phố Hồ Chí Minh",
        country="VN",
        created=base,
    )

    e, p = email_spellings(CUONG.email), phone_spellings(CUONG.phone)
    cuong = erp.partner(
        nfd(CUONG.name),
        email=e[1],  # Le.Van.Cuong@Example.VN
        phone=p[1],  # 0903-111-222
        mobile=p[3],  # +84903111222
        street=CUONG.street,
        city=CUONG.city,
        country="VN",
        created=datetime(2024, 1, 9, 3, 0, 0),
        owner=CUONG,
    )
    delivery = erp.partner(
        CUONG.name.upper(),
        email=e[3],  # " le.van.cuong@example.vn "
        phone=p[4],  # 84 903 111 222
        mobile=None,
        street="88 Nguyễn Trãi",
        city="Thành phố Hồ Chí Minh",
        country="VN",
        created=datetime(2024, 6, 1, 10, 0, 0),
        kind="delivery",
        parent=cuong,
        owner=CUONG,
    )
    invoice = erp.partner(
        None,
        email=e[0],
        phone=p[0],  # (+84) 903 111 222
        mobile=None,
        street=CUONG.street,
        city=CUONG.city,
        country="VN",
        created=datetime(2024, 6, 1, 10, 5, 0),
        kind="invoice",
        parent=cuong,
        owner=CUONG,
    )
    duplicate = erp.partner(  # created again by the website's sign-up
        ascii_fold(CUONG.name),
        email=e[2],  # LE.VAN.CUONG@EXAMPLE.VN
        phone=p[5],  # 090 3111 222
        mobile=p[2],  # 0903.111.222
        street=CUONG.street,
        city=CUONG.city,
        country="VN",
        created=datetime(2025, 3, 3, 3, 3, 3),
        owner=CUONG,
    )
    erp.order(
        cuong,
        invoice=invoice,
        shipping=delivery,
        ordered=datetime(2024, 6, 2, 9, 0),
        state="sale",
        owner=CUONG,
    )
    erp.order(cuong, ordered=datetime(2025, 1, 20, 14, 30), state="draft", owner=CUONG)
    erp.order(
        cuong, shipping=delivery, ordered=datetime(2025, 8, 8, 8, 8), state="cancel", owner=CUONG
    )
    erp.order(duplicate, ordered=datetime(2026, 11, 1, 11, 0), state="sale", owner=CUONG)

    lan = erp.partner(  # Cường's wife: her address and mobile, his home line
        LAN.name,
        email=email_spellings(LAN.email)[1],
        phone=p[6],  # 0903 111 222: his number, on her contact
        mobile=phone_spellings(LAN.phone)[1],
        street=LAN.street,
        city=LAN.city,
        country="VN",
        created=datetime(2024, 9, 9, 9, 0, 0),
        holds=((CUONG, (PHONE,)),),
    )
    erp.order(lan, ordered=datetime(2025, 2, 14, 10, 0), state="sale")

    e, p = email_spellings(HA.email), phone_spellings(HA.phone)
    ha = erp.partner(
        HA.name,
        email=e[5],  # " thu.ha.nguyen@gmail.com"
        phone=None,
        mobile=p[0],  # +65 9123 4567
        street=HA.street,
        city=HA.city,
        country="SG",
        created=datetime(2025, 2, 2, 2, 0, 0),
        owner=HA,
    )
    ha_delivery = erp.partner(
        nfd(HA.name),
        email=e[1],
        phone=p[1],  # (+65) 9123-4567
        mobile=None,
        street="50 Raffles Place #30-00",
        city="Singapore",
        country="SG",
        created=datetime(2025, 2, 2, 2, 5, 0),
        kind="delivery",
        parent=ha,
        owner=HA,
    )
    erp.order(ha, shipping=ha_delivery, ordered=datetime(2025, 2, 3, 4, 0), state="sale", owner=HA)

    e, p = email_spellings(KHOA.email), phone_spellings(KHOA.phone)
    khoa = erp.partner(
        ascii_fold(KHOA.name),
        email=e[1],  # Khoa.Tran@Outlook.com
        phone=p[0],  # +1 (415) 555-2671
        mobile=None,
        street=KHOA.street,
        city=KHOA.city,
        country="US",
        created=datetime(2024, 8, 1, 0, 0, 0),
        owner=KHOA,
    )
    khoa_delivery = erp.partner(
        None,
        email=e[4],  # "Khoa.Tran@Outlook.com "
        phone=p[2],  # 001 415 555 2671
        mobile=p[3],
        street="500 Terry A Francois Blvd",
        city=KHOA.city,
        country="US",
        created=datetime(2024, 8, 1, 0, 10, 0),
        kind="delivery",
        parent=khoa,
        owner=KHOA,
    )
    erp.order(
        khoa, shipping=khoa_delivery, ordered=datetime(2024, 8, 2, 0, 0), state="sale", owner=KHOA
    )
    erp.order(khoa, ordered=datetime(2026, 3, 3, 0, 0), state="sent", owner=KHOA)

    for decoy in (NAMESAKE, OTHER_DOMAIN, HA_DECOY):
        pid = erp.partner(
            decoy.name,
            email=email_spellings(decoy.email)[1],
            phone=phone_spellings(decoy.phone)[1],
            mobile=None,
            street=decoy.street,
            city=decoy.city,
            country=decoy.country,
            created=datetime(2025, 5, 5, 5, 5, 5),
        )
        erp.order(pid, ordered=datetime(2025, 5, 6), state="sale")


def _batches(erp: _Erp, people: int, batch: int) -> Iterator[Rows]:
    _known(erp)
    yield erp.take()
    done = 0
    while done < people:
        n = min(batch, people - done)
        for person in erp.pop.people(n):
            erp.customer(person)
        done += n
        erp.reached.clear()  # only the known subjects' partners matter, and they are done
        erp.names.clear()
        yield erp.take()


def _reset_sequences(engine: sa.Engine) -> None:
    """Rows were written with explicit ids: move the SERIAL sequences past them."""
    with engine.begin() as conn:
        for table in ("res_partner", "sale_order"):
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                )
            )


def fill(engine: sa.Engine, people: int = 200, *, seed: int = SEED, batch: int = 5000) -> Seeded:
    """Write Odoo's own partners, the known subjects, the decoys and ``people`` synthetic
    customers (a contact each, sometimes a delivery address, zero to two sales orders)."""
    rec = Recorder(PRODUCT)
    erp = _Erp(Population(seed), rec)
    counts = bulk.load(engine, TABLES, _batches(erp, people, batch))
    _reset_sequences(engine)
    return rec.seeded(counts)


def scale(engine: sa.Engine, customers: int, *, seed: int = SEED, batch: int = 50_000) -> Seeded:
    """Create the tables anew and bulk-insert ``customers`` contacts (10,000 to 1,000,000)."""
    create_tables(engine)
    with bulk.indexes_deferred(engine, TABLES):
        seeded = fill(engine, customers, seed=seed, batch=batch)
    _trigram_name_index(engine)
    return seeded
