"""WooCommerce with HPOS order tables, on MariaDB, as WordPress and WooCommerce create them.

Upstream (table and column names, types, NULL / NOT NULL, defaults, indexes):

- WordPress/wordpress-develop ``src/wp-admin/includes/schema.php`` at 01501ab
  (``wp_get_db_schema``, the single-site ``users`` and ``usermeta`` tables;
  ``$max_index_length`` = 191);
- woocommerce/woocommerce
  ``plugins/woocommerce/src/Internal/DataStores/Orders/OrdersTableDataStore.php`` at 000233c
  (``get_database_schema``: ``wc_orders``, ``wc_order_addresses``, ``wc_order_operational_data``;
  the index prefix lengths come from ``DatabaseUtil::get_max_index_length``, 191 by default,
  and 191 - 20 = 171 for ``customer_id_billing_email``). ``wc_orders.id`` has no
  AUTO_INCREMENT: WooCommerce takes it from a placeholder post.

Tables use ``$wpdb->get_charset_collate()``'s usual value, utf8mb4 / utf8mb4_unicode_520_ci:
so MariaDB itself compares ``billing_email`` without case and ignores trailing spaces (not
leading ones), as on a real shop.

How identifiers are spelled here:

- ``wp_users.user_email``: case as typed, no spaces (WordPress's ``sanitize_email`` strips
  them at sign-up): ``Le.Van.Cuong@Example.VN``;
- ``wp_wc_orders.billing_email`` and the billing address's ``email``: any spelling, spaces and
  a no-break space included (orders imported or entered by staff): ``Le.Van.Cuong@Example.VN ``,
  ``LE.VAN.CUONG@EXAMPLE.VN``, `` le.van.cuong@example.vn``, ``le.van.cuong@example.vn\\xa0``;
- ``wp_wc_order_addresses.phone`` and the ``billing_phone`` / ``shipping_phone`` user meta:
  every notation (``(+84) 903 111 222``, ``0903.111.222``, ``84 903 111 222``, ``+65 9123 4567``,
  ``001 415 555 2671``...); shipping rows have no e-mail (WooCommerce keeps none there);
- names: ``first_name`` the given name, ``last_name`` family and middle name, NFC or NFD;
  ``display_name`` NFC, NFD or without diacritics.

Guest orders have ``customer_id`` 0 (``null_when`` in the entry). Cường has three orders on his
account and two as a guest (before he signed up; one refunded e-voucher without a shipping
row); one order of his is still processing (deferred on erasure). Hà has two orders shipped to
Singapore, Khoa two guest orders to the US. His wife Lan ordered a gift shipped to him: her
order carries his name and phone in its shipping row (found by her e-mail, never by his).
"""

from __future__ import annotations

import calendar
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.dialects import mysql

from dsr.spellings import stored_values
from tests.products import bulk
from tests.products.bulk import Rows
from tests.products.people import (
    CUONG,
    CUSTOMER_ID,
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

PRODUCT = "woocommerce"
MAX_INDEX_LENGTH = 191  # WordPress's and WooCommerce's prefix length for utf8mb4 indexes
_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_520_ci",
}
_ZERO_DATE = sa.text("'0000-00-00 00:00:00'")
_ID = mysql.BIGINT(20, unsigned=True)

metadata = sa.MetaData()

wp_users = sa.Table(
    "wp_users",
    metadata,
    sa.Column("ID", _ID, primary_key=True, autoincrement=True),
    sa.Column("user_login", mysql.VARCHAR(60), nullable=False, server_default=""),
    sa.Column("user_pass", mysql.VARCHAR(255), nullable=False, server_default=""),
    sa.Column("user_nicename", mysql.VARCHAR(50), nullable=False, server_default=""),
    sa.Column("user_email", mysql.VARCHAR(100), nullable=False, server_default=""),
    sa.Column("user_url", mysql.VARCHAR(100), nullable=False, server_default=""),
    sa.Column("user_registered", mysql.DATETIME(), nullable=False, server_default=_ZERO_DATE),
    sa.Column("user_activation_key", mysql.VARCHAR(255), nullable=False, server_default=""),
    sa.Column("user_status", mysql.INTEGER(11), nullable=False, server_default="0"),
    sa.Column("display_name", mysql.VARCHAR(250), nullable=False, server_default=""),
    sa.Index("user_login_key", "user_login"),
    sa.Index("user_nicename", "user_nicename"),
    sa.Index("user_email", "user_email"),
    **_OPTIONS,
)

wp_usermeta = sa.Table(
    "wp_usermeta",
    metadata,
    sa.Column("umeta_id", _ID, primary_key=True, autoincrement=True),
    sa.Column("user_id", _ID, nullable=False, server_default="0"),
    sa.Column("meta_key", mysql.VARCHAR(255), nullable=True, server_default=sa.text("NULL")),
    sa.Column("meta_value", mysql.LONGTEXT()),
    sa.Index("user_id", "user_id"),
    sa.Index("meta_key", "meta_key", mysql_length=MAX_INDEX_LENGTH),
    **_OPTIONS,
)

wp_wc_orders = sa.Table(
    "wp_wc_orders",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=False),
    sa.Column("status", mysql.VARCHAR(20)),
    sa.Column("currency", mysql.VARCHAR(10)),
    sa.Column("type", mysql.VARCHAR(20)),
    sa.Column("tax_amount", mysql.DECIMAL(26, 8)),
    sa.Column("total_amount", mysql.DECIMAL(26, 8)),
    sa.Column("customer_id", _ID),
    sa.Column("billing_email", mysql.VARCHAR(320)),
    sa.Column("date_created_gmt", mysql.DATETIME()),
    sa.Column("date_updated_gmt", mysql.DATETIME()),
    sa.Column("parent_order_id", _ID),
    sa.Column("payment_method", mysql.VARCHAR(100)),
    sa.Column("payment_method_title", mysql.TEXT()),
    sa.Column("transaction_id", mysql.VARCHAR(100)),
    sa.Column("ip_address", mysql.VARCHAR(100)),
    sa.Column("user_agent", mysql.TEXT()),
    sa.Column("customer_note", mysql.TEXT()),
    sa.Index("status", "status"),
    sa.Index("date_created", "date_created_gmt"),
    sa.Index(
        "customer_id_billing_email",
        "customer_id",
        "billing_email",
        mysql_length={"billing_email": MAX_INDEX_LENGTH - 20},
    ),
    sa.Index("billing_email", "billing_email", mysql_length=MAX_INDEX_LENGTH),
    sa.Index("type_status_date", "type", "status", "date_created_gmt"),
    sa.Index("parent_order_id", "parent_order_id"),
    sa.Index("date_updated", "date_updated_gmt"),
    **_OPTIONS,
)

wp_wc_order_addresses = sa.Table(
    "wp_wc_order_addresses",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("order_id", _ID, nullable=False),
    sa.Column("address_type", mysql.VARCHAR(20)),
    sa.Column("first_name", mysql.TEXT()),
    sa.Column("last_name", mysql.TEXT()),
    sa.Column("company", mysql.TEXT()),
    sa.Column("address_1", mysql.TEXT()),
    sa.Column("address_2", mysql.TEXT()),
    sa.Column("city", mysql.TEXT()),
    sa.Column("state", mysql.TEXT()),
    sa.Column("postcode", mysql.TEXT()),
    sa.Column("country", mysql.TEXT()),
    sa.Column("email", mysql.VARCHAR(320)),
    sa.Column("phone", mysql.VARCHAR(100)),
    sa.Index("order_id", "order_id"),
    sa.Index("address_type_order_id", "address_type", "order_id", unique=True),
    sa.Index("email", "email", mysql_length=MAX_INDEX_LENGTH),
    sa.Index("phone", "phone"),
    **_OPTIONS,
)

wp_wc_order_operational_data = sa.Table(
    "wp_wc_order_operational_data",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("order_id", _ID),
    sa.Column("created_via", mysql.VARCHAR(100)),
    sa.Column("woocommerce_version", mysql.VARCHAR(20)),
    sa.Column("prices_include_tax", mysql.TINYINT(1)),
    sa.Column("coupon_usages_are_counted", mysql.TINYINT(1)),
    sa.Column("download_permission_granted", mysql.TINYINT(1)),
    sa.Column("cart_hash", mysql.VARCHAR(100)),
    sa.Column("new_order_email_sent", mysql.TINYINT(1)),
    sa.Column("order_key", mysql.VARCHAR(100)),
    sa.Column("order_stock_reduced", mysql.TINYINT(1)),
    sa.Column("date_paid_gmt", mysql.DATETIME()),
    sa.Column("date_completed_gmt", mysql.DATETIME()),
    sa.Column("shipping_tax_amount", mysql.DECIMAL(26, 8)),
    sa.Column("shipping_total_amount", mysql.DECIMAL(26, 8)),
    sa.Column("discount_tax_amount", mysql.DECIMAL(26, 8)),
    sa.Column("discount_total_amount", mysql.DECIMAL(26, 8)),
    sa.Column("recorded_sales", mysql.TINYINT(1)),
    sa.Index("order_id", "order_id", unique=True),
    sa.Index("order_key", "order_key"),
    **_OPTIONS,
)

TABLES = (wp_users, wp_usermeta, wp_wc_orders, wp_wc_order_addresses, wp_wc_order_operational_data)
# Where each table keeps identifiers (the fixture tests read the known subjects' values here).
IDENTIFIER_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "wp_users": {EMAIL: ("user_email",)},
    "wp_wc_orders": {EMAIL: ("billing_email",)},
    "wp_wc_order_addresses": {EMAIL: ("email",), PHONE: ("phone",)},
}
NAME_COLUMNS: dict[str, tuple[str, ...]] = {
    "wp_users": ("display_name",),
    "wp_wc_order_addresses": ("first_name", "last_name"),
}

ENTRY = """\
name: woocommerce
kind: sql
url: "mysql+pymysql://root@127.0.0.1:3306/products?charset=utf8mb4"
labels: {vi: "Cửa hàng trực tuyến (WooCommerce)", en: "Online shop (WooCommerce)"}
tables:
  # WordPress accounts. customer_id is the account's ID: wp_wc_orders.customer_id holds it.
  - name: wp_users
    key: ID
    match: {email: user_email, customer_id: ID}
    provides: {customer_id: ID, email: user_email, name: display_name}
    owner: [customer_id, email]
    rectifiable: {name: display_name, email: user_email}
    collected_at: user_registered
    erase: {mode: delete}
  # The account's profile, billing and shipping details (meta_key / meta_value rows).
  - name: wp_usermeta
    key: umeta_id
    parent: {table: wp_users, column: user_id}
    erase: {mode: delete}
  # HPOS orders. A guest order has customer_id 0 and is the account of its billing e-mail.
  - name: wp_wc_orders
    key: id
    match: {customer_id: customer_id, email: billing_email}
    null_when: {customer_id: [0]}
    owner: [customer_id, email]
    owner_rule: first
    changed_at: date_updated_gmt
    collected_at: date_created_gmt
    rectifiable: {email: billing_email}
    historical_when: {column: status, in: [wc-completed, wc-refunded, wc-cancelled, wc-failed]}
    defer_when:
      column: status
      in: [wc-pending, wc-processing, wc-on-hold]
      reason: >-
        đơn hàng chưa hoàn tất, còn cần để giao hàng; sẽ được ẩn danh hóa khi đã xong (open
        order: needed to deliver it; anonymised once completed)
    erase:
      mode: anonymise
      columns:
        billing_email: hash
        customer_id: "null"
        ip_address: "null"
        user_agent: "null"
        customer_note: "null"
      legal_basis: &accounting >-
        Luật Kế toán 2015, Điều 41: chứng từ kế toán lưu trữ 10 năm (Vietnam Law on
        Accounting 2015, Art. 41: accounting records kept 10 years)
      retention: {years: 10, from: date_created_gmt, fiscal_year_end: true}
  # The order's billing and shipping addresses (names, street, e-mail, phone): HPOS keeps the
  # order's phone only here. A hit leads to the order, judged by the order's account.
  - name: wp_wc_order_addresses
    key: id
    parent: {table: wp_wc_orders, column: order_id}
    match: {email: email, phone: phone}
    erase:
      mode: anonymise
      columns:
        first_name: redact
        last_name: redact
        company: "null"
        address_1: redact
        address_2: "null"
        postcode: "null"
        email: "null"
        phone: "null"
      legal_basis: *accounting
  # Order bookkeeping (order key, paid / completed dates, shipping and discount totals).
  - name: wp_wc_order_operational_data
    key: id
    parent: {table: wp_wc_orders, column: order_id}
    erase:
      mode: keep
      legal_basis: *accounting
"""


def entry(url: str) -> dict[str, Any]:
    """This product's ``connectors.yaml`` entry, pointed at ``url``."""
    data: dict[str, Any] = yaml.safe_load(ENTRY)
    data["url"] = url
    return data


def create_tables(engine: sa.Engine) -> None:
    """Drop (if there) and create the upstream tables, with upstream's indexes only."""
    drop_tables(engine)
    metadata.create_all(engine)


def drop_tables(engine: sa.Engine) -> None:
    metadata.drop_all(engine)


# -- rows -----------------------------------------------------------------------------------------

_STATUSES = (
    ("wc-completed", 70),
    ("wc-processing", 8),
    ("wc-on-hold", 3),
    ("wc-pending", 4),
    ("wc-cancelled", 7),
    ("wc-refunded", 4),
    ("wc-failed", 4),
)
_OPEN = ("wc-pending", "wc-processing", "wc-on-hold")
_PAYMENTS = (
    ("cod", "Trả tiền mặt khi nhận hàng"),
    ("bacs", "Chuyển khoản ngân hàng"),
    ("vnpay", "Thanh toán qua VNPAY"),
)
_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
)
_NOTES = ("", "", "", "Giao giờ hành chính", "Để hàng ở bảo vệ giúp em", "Gói quà giúp mình")


@dataclass(frozen=True)
class Address:
    """One address row of an order, as the customer typed it."""

    first_name: str
    last_name: str
    address_1: str
    city: str
    country: str
    phone: str
    email: str | None = None  # billing rows only


class _Shop:
    """Builds the shop's rows with running ids; a batch is taken with ``take``."""

    def __init__(self, pop: Population, rec: Recorder) -> None:
        self.pop, self.rec, self.rng = pop, rec, pop.rng
        self.user_id = 0
        self.umeta_id = 0
        self.order_id = 1000
        self.address_id = 0
        self.op_id = 0
        self.rows: Rows = {}

    def take(self) -> Rows:
        rows, self.rows = self.rows, {}
        return rows

    def _add(self, table: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(row)

    def _token(self, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def user(
        self,
        person: Person,
        *,
        email: str,
        display_name: str,
        registered: datetime,
        meta: dict[str, str],
        owner: Person | None = None,
    ) -> int:
        """A WordPress account with its user meta; ``owner``: a known subject's."""
        self.user_id += 1
        uid = self.user_id
        login = f"{ascii_fold(person.given)}{ascii_fold(person.family)}{uid}".lower()
        self._add(
            "wp_users",
            {
                "ID": uid,
                "user_login": login,
                "user_pass": "$P$B" + self._token(31, string.ascii_letters + string.digits + "./"),
                "user_nicename": login,
                "user_email": email,
                "user_url": "",
                "user_registered": registered,
                "user_activation_key": "",
                "user_status": 0,
                "display_name": display_name,
            },
        )
        if owner is not None:
            self.rec.subject(owner).assigned[CUSTOMER_ID] = str(uid)
            self.rec.own(owner, "wp_users", uid, (EMAIL, CUSTOMER_ID))
        stamp = str(calendar.timegm((registered + timedelta(days=1)).timetuple()))
        for key, value in {
            "nickname": login,
            "first_name": person.given,
            "last_name": person.surname,
            "wp_capabilities": 'a:1:{s:8:"customer";b:1;}',
            **meta,
            "last_update": stamp,
        }.items():
            self.umeta_id += 1
            self._add(
                "wp_usermeta",
                {"umeta_id": self.umeta_id, "user_id": uid, "meta_key": key, "meta_value": value},
            )
            if owner is not None:
                self.rec.own(owner, "wp_usermeta", self.umeta_id, (EMAIL, CUSTOMER_ID))
        return uid

    def order(
        self,
        *,
        customer_id: int,
        billing_email: str,
        created: datetime,
        status: str,
        billing: Address,
        shipping: Address | None,
        note: str = "",
        owner: Person | None = None,
    ) -> int:
        """An order with its addresses and operational data; ``owner``: a known subject's
        (found by their e-mail, and by their customer id when placed on their account)."""
        rng = self.rng
        self.order_id += 1
        oid = self.order_id
        total = Decimal(rng.randrange(50, 5000) * 1000)
        method, title = rng.choice(_PAYMENTS)
        done = status not in _OPEN and status != "wc-failed"
        updated = created + timedelta(minutes=rng.randrange(5, 7 * 24 * 60)) if done else created
        updated = min(updated, NOW)
        self._add(
            "wp_wc_orders",
            {
                "id": oid,
                "status": status,
                "currency": "VND",
                "type": "shop_order",
                "tax_amount": (total * 8 / 108).quantize(Decimal("1")),
                "total_amount": total,
                "customer_id": customer_id,
                "billing_email": billing_email,
                "date_created_gmt": created,
                "date_updated_gmt": updated,
                "parent_order_id": 0,
                "payment_method": method,
                "payment_method_title": title,
                "transaction_id": "" if method == "cod" else f"VNP{rng.randrange(10**8, 10**9)}",
                "ip_address": f"{rng.randrange(14, 223)}.{rng.randrange(256)}."
                f"{rng.randrange(256)}.{rng.randrange(1, 255)}",
                "user_agent": rng.choice(_AGENTS),
                "customer_note": note,
            },
        )
        via: tuple[str, ...] = (EMAIL, CUSTOMER_ID) if customer_id else (EMAIL,)
        # HPOS keeps the order's phone in its addresses only: a search by a phone an address
        # holds returns the order with its rows (the owner's, or another person's order that
        # ships to them: Lan's gift to Cường).
        phones = {
            v for a in (billing, shipping) if a is not None for v in stored_values(PHONE, a.phone)
        }
        if owner is not None and owner.value(PHONE) in phones:
            via += (PHONE,)
        sharers = [p for p in (CUONG, HA, KHOA) if p is not owner and p.value(PHONE) in phones]
        if owner is not None:
            self.rec.own(owner, "wp_wc_orders", oid, via)
        for person in sharers:
            self.rec.hit(person, "wp_wc_orders", oid, (PHONE,))
        for kind, address in (("billing", billing), ("shipping", shipping)):
            if address is None:
                continue
            self.address_id += 1
            self._add(
                "wp_wc_order_addresses",
                {
                    "id": self.address_id,
                    "order_id": oid,
                    "address_type": kind,
                    "first_name": address.first_name,
                    "last_name": address.last_name,
                    "company": None,
                    "address_1": address.address_1,
                    "address_2": None,
                    "city": address.city,
                    "state": None,
                    "postcode": None,
                    "country": address.country,
                    "email": address.email,
                    "phone": address.phone,
                },
            )
            if owner is not None:
                self.rec.own(owner, "wp_wc_order_addresses", self.address_id, via)
            for person in sharers:
                self.rec.hit(person, "wp_wc_order_addresses", self.address_id, (PHONE,))
        self.op_id += 1
        paid = created + timedelta(minutes=rng.randrange(1, 60)) if done else None
        self._add(
            "wp_wc_order_operational_data",
            {
                "id": self.op_id,
                "order_id": oid,
                "created_via": "checkout",
                "woocommerce_version": "9.4.2",
                "prices_include_tax": 1,
                "coupon_usages_are_counted": 1,
                "download_permission_granted": 1,
                "cart_hash": f"{rng.getrandbits(128):032x}",
                "new_order_email_sent": 1,
                "order_key": "wc_order_" + self._token(13),
                "order_stock_reduced": 1 if done or status == "wc-processing" else 0,
                "date_paid_gmt": paid,
                "date_completed_gmt": updated if status == "wc-completed" else None,
                "shipping_tax_amount": Decimal("0"),
                "shipping_total_amount": Decimal(30000 if shipping is not None else 0),
                "discount_tax_amount": Decimal("0"),
                "discount_total_amount": Decimal("0"),
                "recorded_sales": 1 if done else 0,
            },
        )
        if owner is not None:
            self.rec.own(owner, "wp_wc_order_operational_data", self.op_id, via)
        for person in sharers:
            self.rec.hit(person, "wp_wc_order_operational_data", self.op_id, (PHONE,))
        return oid

    # -- a synthetic customer --------------------------------------------------------------------

    def customer(self, person: Person) -> None:
        pop, rng = self.pop, self.rng
        registered = rng.random() < 0.7
        customer_id = 0
        if registered:
            since = pop.moment(datetime(2018, 1, 1))
            customer_id = self.user(
                person,
                email=pop.login_email(person.email),
                display_name=pop.name(person.name),
                registered=since,
                meta={
                    "billing_first_name": pop.name(person.given),
                    "billing_last_name": pop.name(person.surname),
                    "billing_address_1": person.street,
                    "billing_city": person.city,
                    "billing_country": person.country,
                    "billing_email": pop.email(person.email),
                    "billing_phone": pop.phone(person.phone),
                    "shipping_phone": pop.phone(person.phone),
                },
            )
        count = rng.choice((0, 1, 1, 2, 3)) if registered else 1
        for _ in range(count):
            created = pop.moment(datetime(2019, 1, 1))
            status = rng.choices([s for s, _ in _STATUSES], [w for _, w in _STATUSES])[0]
            if status in _OPEN and created < NOW - timedelta(days=30):
                status = "wc-completed"
            billing_email = pop.email(person.email)
            billing = Address(
                pop.name(person.given),
                pop.name(person.surname),
                person.street,
                person.city,
                person.country,
                pop.phone(person.phone),
                billing_email,
            )
            shipping = None
            if rng.random() < 0.85:
                shipping = Address(
                    billing.first_name,
                    billing.last_name,
                    person.street,
                    person.city,
                    person.country,
                    pop.phone(person.phone),
                )
            self.order(
                customer_id=customer_id,
                billing_email=billing_email,
                created=created,
                status=status,
                billing=billing,
                shipping=shipping,
                note=rng.choice(_NOTES),
            )


def _known(shop: _Shop) -> None:
    """The shop owner, the known subjects and the decoys, written by hand."""
    shop.user(
        Person("admin", "Trương", "Quốc", "Bảo", "admin@shop.example.vn", "+84283824567", "", ""),
        email="admin@shop.example.vn",
        display_name="Quản trị cửa hàng",
        registered=datetime(2018, 1, 2, 3, 4, 5),
        meta={"wp_capabilities": 'a:1:{s:13:"administrator";b:1;}'},
    )
    e, p = email_spellings(CUONG.email), phone_spellings(CUONG.phone)
    cuong = shop.user(
        CUONG,
        email=e[1],  # Le.Van.Cuong@Example.VN
        display_name=nfd(CUONG.name),
        registered=datetime(2024, 1, 8, 14, 2, 11),
        meta={
            "billing_first_name": nfd(CUONG.given),
            "billing_last_name": CUONG.surname,
            "billing_address_1": CUONG.street,
            "billing_city": CUONG.city,
            "billing_country": "VN",
            "billing_email": e[3],
            "billing_phone": p[0],
            "shipping_phone": p[1],
        },
        owner=CUONG,
    )

    def cuong_at(phone: str, email: str | None = None) -> Address:
        return Address(CUONG.given, CUONG.surname, CUONG.street, CUONG.city, "VN", phone, email)

    shop.order(
        customer_id=cuong,
        billing_email=e[1],
        created=datetime(2024, 3, 5, 2, 41, 7),
        status="wc-completed",
        billing=cuong_at(p[2], e[1]),
        shipping=cuong_at(p[5]),
        owner=CUONG,
    )
    shop.order(
        customer_id=cuong,
        billing_email=e[4],
        created=datetime(2025, 7, 19, 11, 5, 40),
        status="wc-completed",
        billing=cuong_at(p[3], e[4]),
        shipping=cuong_at(p[4]),
        owner=CUONG,
    )
    shop.order(
        customer_id=cuong,
        billing_email=e[2],
        created=datetime(2026, 11, 2, 8, 30, 0),
        status="wc-processing",
        billing=cuong_at(p[7], e[2]),
        shipping=cuong_at(p[6]),
        note="Gọi 0903.111.222 trước khi giao, cảm ơn!",
        owner=CUONG,
    )
    shop.order(  # before he signed up: a guest order
        customer_id=0,
        billing_email=e[5],
        created=datetime(2023, 12, 24, 16, 12, 3),
        status="wc-completed",
        billing=Address(
            nfd(CUONG.given), nfd(CUONG.surname), CUONG.street, CUONG.city, "VN", p[1], e[5]
        ),
        shipping=cuong_at(p[8]),
        owner=CUONG,
    )
    shop.order(  # a refunded e-voucher: no shipping row
        customer_id=0,
        billing_email=e[7],
        created=datetime(2022, 6, 10, 9, 0, 59),
        status="wc-refunded",
        billing=cuong_at(p[8], e[7]),
        shipping=None,
        owner=CUONG,
    )

    e, p = email_spellings(HA.email), phone_spellings(HA.phone)
    ha = shop.user(
        HA,
        email=e[1],
        display_name=HA.name,
        registered=datetime(2025, 2, 1, 7, 0, 0),
        meta={
            "billing_first_name": HA.given,
            "billing_last_name": HA.surname,
            "billing_address_1": HA.street,
            "billing_city": HA.city,
            "billing_country": "SG",
            "billing_email": e[2],
            "billing_phone": p[0],
            "shipping_phone": p[4],
        },
        owner=HA,
    )

    def ha_at(phone: str, email: str | None = None) -> Address:
        return Address(HA.given, HA.surname, HA.street, HA.city, "SG", phone, email)

    shop.order(
        customer_id=ha,
        billing_email=e[3],
        created=datetime(2025, 2, 14, 1, 15, 0),
        status="wc-completed",
        billing=ha_at(p[1], e[3]),
        shipping=ha_at(p[2]),
        owner=HA,
    )
    shop.order(
        customer_id=ha,
        billing_email=e[1],
        created=datetime(2026, 10, 30, 23, 59, 1),
        status="wc-on-hold",
        billing=ha_at(p[3], e[1]),
        shipping=ha_at(p[4]),
        owner=HA,
    )

    e, p = email_spellings(KHOA.email), phone_spellings(KHOA.phone)

    def khoa_at(phone: str, email: str | None = None) -> Address:
        return Address(
            ascii_fold(KHOA.given),
            ascii_fold(KHOA.surname),
            KHOA.street,
            KHOA.city,
            "US",
            phone,
            email,
        )

    shop.order(
        customer_id=0,
        billing_email=e[4],
        created=datetime(2024, 8, 8, 18, 0, 0),
        status="wc-completed",
        billing=khoa_at(p[0], e[4]),
        shipping=khoa_at(p[2]),
        owner=KHOA,
    )
    shop.order(
        customer_id=0,
        billing_email=e[0],
        created=datetime(2026, 1, 15, 3, 3, 3),
        status="wc-completed",
        billing=khoa_at(p[3], e[0]),
        shipping=None,
        owner=KHOA,
    )

    # Decoys: none of these rows is a known subject's.
    e = email_spellings(NAMESAKE.email)
    namesake = shop.user(
        NAMESAKE,
        email="LeVanCuong88@Gmail.com",
        display_name=NAMESAKE.name,
        registered=datetime(2023, 5, 5, 5, 5, 5),
        meta={"billing_email": e[0], "billing_phone": phone_spellings(NAMESAKE.phone)[6]},
    )
    shop.order(
        customer_id=namesake,
        billing_email=e[1],
        created=datetime(2025, 9, 9, 9, 9, 9),
        status="wc-completed",
        billing=Address(
            NAMESAKE.given,
            NAMESAKE.surname,
            NAMESAKE.street,
            NAMESAKE.city,
            "VN",
            phone_spellings(NAMESAKE.phone)[1],
            e[1],
        ),
        shipping=None,
    )
    for decoy, shipping_to in ((OTHER_DOMAIN, None), (HA_DECOY, None), (LAN, CUONG)):
        e = email_spellings(decoy.email)
        to = shipping_to or decoy
        shop.order(
            customer_id=0,
            billing_email=e[1],
            created=datetime(2026, 2, 14, 10, 0, 0),
            status="wc-completed",
            billing=Address(
                decoy.given,
                decoy.surname,
                decoy.street,
                decoy.city,
                decoy.country,
                phone_spellings(decoy.phone)[0],
                e[1],
            ),
            # Lan's gift to Cường: his name and phone, on her order.
            shipping=Address(
                to.given, to.surname, to.street, to.city, to.country, phone_spellings(to.phone)[-1]
            ),
        )


def _batches(shop: _Shop, people: int, batch: int) -> Iterator[Rows]:
    _known(shop)
    yield shop.take()
    done = 0
    while done < people:
        for person in shop.pop.people(min(batch, people - done)):
            shop.customer(person)
        done += min(batch, people - done)
        yield shop.take()


def fill(engine: sa.Engine, people: int = 200, *, seed: int = SEED, batch: int = 5000) -> Seeded:
    """Write the known subjects, the decoys and ``people`` synthetic customers (each with an
    account or not, and zero to three orders) into tables ``create_tables`` made."""
    rec = Recorder(PRODUCT)
    shop = _Shop(Population(seed), rec)
    counts = bulk.load(engine, TABLES, _batches(shop, people, batch))
    return rec.seeded(counts)


def scale(engine: sa.Engine, customers: int, *, seed: int = SEED, batch: int = 20_000) -> Seeded:
    """Create the tables anew and bulk-insert ``customers`` synthetic customers (10,000 to
    1,000,000: about 2.6 orders' worth of rows each), plus the known subjects."""
    create_tables(engine)
    with bulk.indexes_deferred(engine, TABLES):
        return fill(engine, customers, seed=seed, batch=batch)
