"""The peer workload's store: PostgreSQL ``shop`` with customers and their orders, loaded by COPY.

``customers(id, email, name, phone, address, updated_at)``, ``email`` and ``updated_at`` indexed
as a shop's are (the identifier index catches up on changed rows through ``updated_at``),
``orders(id, customer_id, shipping_address, total)`` with ``customer_id`` indexed. One SQL
connector reaches orders as a child table of customers (``parent:`` keyed by customer id).
Erasure nulls e-mail, name, phone, address and the orders' shipping address.
"""

from __future__ import annotations

from pathlib import Path
from random import Random

import sqlalchemy as sa

FIRST = [
    "An",
    "Bình",
    "Chi",
    "Dũng",
    "Giang",
    "Hà",
    "Hải",
    "Hoa",
    "Hùng",
    "Khánh",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Minh",
    "Nam",
    "Ngọc",
    "Phương",
    "Quân",
    "Thảo",
    "Trang",
    "Tú",
]
LAST = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi"]
MIDDLE = ["Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thanh", "Đức", "Quang"]
STREETS = [
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Huệ",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Điện Biên Phủ",
    "Pasteur",
    "Cách Mạng Tháng Tám",
    "Võ Văn Tần",
    "Nam Kỳ Khởi Nghĩa",
]
CITIES = ["Hà Nội", "TP. Hồ Chí Minh", "Đà Nẵng", "Huế", "Cần Thơ", "Hải Phòng", "Nha Trang"]

UPDATED = "2026-01-02 03:04:05"  # when the shop last wrote its customers (long before a run)
SCHEMA = """
CREATE TABLE customers (
    id integer PRIMARY KEY, email varchar(320), name varchar(200),
    phone varchar(20), address varchar(400), updated_at timestamp NOT NULL DEFAULT now());
CREATE TABLE orders (
    id integer PRIMARY KEY, customer_id integer NOT NULL, shipping_address varchar(400),
    total numeric(14, 2) NOT NULL);
"""
INDEXES = """
CREATE INDEX ix_customers_email ON customers (email);
CREATE INDEX ix_customers_updated_at ON customers (updated_at);
CREATE INDEX ix_orders_customer_id ON orders (customer_id);
ANALYZE customers; ANALYZE orders;
"""

CONNECTORS = """\
connectors:
  - name: shop
    kind: sql
    url: "{url}"
    labels: {{vi: "Cửa hàng", en: "Shop"}}
    tables:
      - name: customers
        key: id
        match: {{email: email}}
        changed_at: updated_at
        erase:
          mode: anonymise
          columns: {{email: "null", name: "null", phone: "null", address: "null"}}
      - name: orders
        key: id
        parent: {{table: customers, column: customer_id}}
        erase:
          mode: anonymise
          columns: {{shipping_address: "null"}}
"""


def email_of(i: int) -> str:
    return f"kh{i:07d}@example.com"


def _address(rng: Random) -> str:
    return f"{rng.randint(1, 999)} {rng.choice(STREETS)}, {rng.choice(CITIES)}"


def load(url: str, *, customers: int, orders: int, seed: int = 7) -> dict[str, float]:
    """Create and fill the shop store; returns row counts and load seconds."""
    import time

    rng = Random(seed)
    engine = sa.create_engine(url)
    started = time.perf_counter()
    try:
        raw = engine.raw_connection()
        try:
            conn = raw.driver_connection
            assert conn is not None
            with conn.cursor() as cur:
                cur.execute(SCHEMA)
                columns = "id, email, name, phone, address, updated_at"
                with cur.copy(f"COPY customers ({columns}) FROM STDIN") as cp:
                    for i in range(1, customers + 1):
                        name = f"{rng.choice(LAST)} {rng.choice(MIDDLE)} {rng.choice(FIRST)}"
                        phone = f"+849{rng.randrange(10**8):08d}"
                        cp.write_row((i, email_of(i), name, phone, _address(rng), UPDATED))
                with cur.copy(
                    "COPY orders (id, customer_id, shipping_address, total) FROM STDIN"
                ) as cp:
                    for i in range(1, orders + 1):
                        cp.write_row(
                            (
                                i,
                                rng.randint(1, customers),
                                _address(rng),
                                f"{rng.randrange(50, 50_000) * 1000}.00",
                            )
                        )
                cur.execute(INDEXES)
            conn.commit()
        finally:
            raw.close()
    finally:
        engine.dispose()
    return {
        "customers": customers,
        "orders": orders,
        "load_s": round(time.perf_counter() - started, 2),
    }


def write_connectors(url: str, folder: Path) -> Path:
    path = folder / "connectors-shop.yaml"
    path.write_text(CONNECTORS.format(url=url), encoding="utf-8")
    return path
