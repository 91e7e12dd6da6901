"""Small, hand-written demo stores for the connector contract suite (no dependency on seeding).

Each ``make_*`` builds one connector from the real ``config/connectors.yaml`` entry (its URL
pointed at the engine under test), fills its store with a subject, a bystander and, on demand,
rows for a retention sweep, and returns a ``Harness`` saying what the suite should observe.
"""

from __future__ import annotations

import math
import struct
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from config.settings import CONFIG_DIR
from connectors.base import Action, Connector, Match, RetentionRule, Verdict
from connectors.registry import load_connectors, read_entries
from connectors.sql import SqlStore
from connectors.sql_files import FILES
from connectors.sql_purge import cutoff_for
from demo.stores import cdr, create_store, customers, order_items, orders, subscribers
from dsr.identity import CUSTOMER_ID, EMAIL, PHONE, Identity

SECRET = "contract-suite-secret-key"
A_EMAIL_RAW, A_EMAIL = "Nguyen.Van.A@Gmail.com", "nguyen.van.a@gmail.com"
A_PHONE_RAW, A_PHONE = "0912 345 678", "+84912345678"
A_CID, A_NAME = "C0001", "Nguyễn Văn A"
B_EMAIL_RAW, B_EMAIL = "Tran.Thi.B@yahoo.com", "tran.thi.b@yahoo.com"
B_PHONE_RAW, B_PHONE = "0987 654 321", "+84987654321"
B_CID, B_NAME = "C0003", "Trần Thị B"
HOLD_PHONE, HOLD_EMAIL, HOLD_CID = "+84977000009", "held@example.com", "CHELD"

SUBJECT = Identity({EMAIL: {A_EMAIL}, PHONE: {A_PHONE}, CUSTOMER_ID: {A_CID}})
BYSTANDER = Identity({EMAIL: {B_EMAIL}, PHONE: {B_PHONE}, CUSTOMER_ID: {B_CID}})
NOBODY = Identity({EMAIL: {"nobody@example.com"}, PHONE: {"+84911000001"}, CUSTOMER_ID: {"C9999"}})
N_OLD = 7  # aged rows a sweep must purge


class ListPolicy:
    """The contract suite's policy: search by ``search``, admit what ``admit`` says.

    Every record the connector asked about is kept in ``asked`` (by table and key), with the
    last verdict given, so a test can compare what was admitted with what was touched.
    """

    def __init__(
        self,
        search: Identity,
        admit: Callable[[Match], bool] = lambda m: True,
        trusted: Identity | None = None,
    ):
        self.search = search
        self.trusted = search if trusted is None else trusted
        self.admit = admit
        self.asked: dict[tuple[str, str], Verdict] = {}

    def decide(self, matches: Sequence[Match]) -> list[Verdict]:
        verdicts = [Verdict.ADMIT if self.admit(m) else Verdict.OTHER_ACCOUNT for m in matches]
        for match, verdict in zip(matches, verdicts, strict=True):
            self.asked[(match.table, match.key)] = verdict
        return verdicts

    def admitted(self, table: str) -> set[str]:
        return {k for (t, k), v in self.asked.items() if t == table and v is Verdict.ADMIT}

    def refused(self, table: str) -> set[str]:
        return {k for (t, k), v in self.asked.items() if t == table and v is not Verdict.ADMIT}


def admit_all(identity: Identity) -> ListPolicy:
    """A policy admitting every record ``identity`` finds (the store's own mechanics tested)."""
    return ListPolicy(identity)


@dataclass
class Harness:
    """One connector on one engine, and what the contract suite should see it do."""

    connector: Connector
    engine: sa.Engine  # a separate, raw view of the same store, to check what really changed
    by_kind: dict[str, int]  # records found by each needed identifier kind alone
    bystander_count: int
    access: list[tuple[str, Action, int]]
    collected_from: str
    rectify: list[tuple[str, Action, int]]
    erase: list[tuple[str, Action, int]]
    tables: list[str]
    rule: RetentionRule
    purge_now: datetime
    held: Identity
    add_purge_rows: Callable[[], None]
    old_live: Callable[[], int]  # aged rows not yet purged
    protected: Callable[[], Any]  # snapshot of rows (and files) a sweep must not touch
    purge_deletes: bool = True
    sweeps: bool = True  # False: the store keeps no retention sweep (an HTTP store)
    extra: dict[str, Any] = field(default_factory=dict)
    # Contract tests this store is known to fail, and why (each run as a strict xfail).

    def count(self, table: str, where: str = "1 = 1") -> int:
        with self.engine.connect() as conn:
            sql = f"SELECT COUNT(*) FROM {table} WHERE {where}"  # test-owned text, no input
            return int(conn.execute(sa.text(sql)).scalar_one())

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]

    def key_of(self, table: str) -> str:
        """The column a table's rows are known by (its configured key)."""
        assert isinstance(self.connector, SqlStore)
        return next(t.key for t in self.connector.config.tables if t.name == table)

    def keyed(self) -> dict[str, dict[str, tuple[object, ...]]]:
        """Every data table's rows by key (as text), as the store holds them now."""
        out: dict[str, dict[str, tuple[object, ...]]] = {}
        for table in self.tables:
            if table == "suppression":
                continue
            key = self.key_of(table)
            rows = self.rows(f"SELECT {key}, t.* FROM {table} t ORDER BY {key}")
            out[table] = {str(r[0]): r[1:] for r in rows}
        return out

    def snapshot(self) -> dict[str, Any]:
        """Everything the store holds, to compare before and after."""
        return {t: self.rows(f"SELECT * FROM {t} ORDER BY 1") for t in self.tables}

    def close(self) -> None:
        self.connector.close()
        self.engine.dispose()


def build_connector(tmp_path: Path, name: str, url: str | None = None) -> Connector:
    """The connector ``name`` from the default connectors.yaml, via the real registry."""
    entries = read_entries(CONFIG_DIR / "connectors.yaml", data_dir=tmp_path)
    entry = next(e for e in entries if e["name"] == name)
    if url is not None:
        entry["url"] = url
    path = tmp_path / f"connectors-{name}.yaml"
    path.write_text(yaml.safe_dump({"connectors": [entry]}, allow_unicode=True), "utf-8")
    return load_connectors(path, data_dir=tmp_path, secret_key=SECRET, region="VN")[name]


def _insert(engine: sa.Engine, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(table), rows)


def _aged(rule: RetentionRule, now: datetime, i: int) -> datetime:
    """Just before the cutoff (one minute, plus ``i`` days): aged out."""
    return cutoff_for(rule, now) - timedelta(minutes=1, days=i)


def _young(rule: RetentionRule, now: datetime, days: int = 0) -> datetime:
    """At or just after the cutoff: must survive."""
    return cutoff_for(rule, now) + timedelta(minutes=1 if days == 0 else 0, days=days)


# -- CRM ---------------------------------------------------------------------------------------


def customer(
    cid: str,
    name: str,
    email: str | None,
    phone: str | None,
    *,
    created: datetime,
    active: datetime | None,
) -> dict[str, Any]:
    return {
        "customer_id": cid,
        "full_name": name,
        "email": email,
        "phone": phone,
        "address": "25 Nguyễn Trãi, Thanh Xuân, Hà Nội",
        "gender": "nam",
        "courses": "IELTS 6.5",
        "status": "active",
        "last_activity_at": active,
        "created_at": created,
    }


def make_crm(tmp_path: Path, url: str) -> Harness:
    engine = sa.create_engine(url)
    create_store(engine, "crm")
    _insert(
        engine,
        customers,
        [
            customer(
                A_CID,
                A_NAME,
                A_EMAIL_RAW,
                A_PHONE_RAW,
                created=datetime(2020, 3, 1, 8, 30),
                active=datetime(2024, 6, 1),
            ),
            # A second account of the same person, sharing only the phone (S8: both are found).
            customer(
                "C0002",
                A_NAME,
                "a.nguyen@work.vn",
                "+84 912 345 678",
                created=datetime(2021, 9, 15),
                active=datetime(2024, 5, 1),
            ),
            customer(
                B_CID,
                B_NAME,
                B_EMAIL_RAW,
                B_PHONE_RAW,
                created=datetime(2022, 1, 10),
                active=datetime(2024, 6, 1),
            ),
        ],
    )
    rule = RetentionRule("crm", "customers", "last_activity_at", days=1095)
    now = datetime(2025, 6, 1, 12, 0)

    def add_purge_rows() -> None:
        old = [
            customer(
                f"OLD-{i:02}",
                f"Khách cũ {i}",
                f"old{i:02}@example.com",
                None,
                created=datetime(2015, 1, 1),
                active=_aged(rule, now, i),
            )
            for i in range(N_OLD)
        ]
        _insert(
            engine,
            customers,
            [
                *old,
                customer(
                    "HLD-01",
                    "Khách đang tranh chấp",
                    None,
                    HOLD_PHONE,
                    created=datetime(2015, 1, 1),
                    active=datetime(2016, 1, 1),
                ),
                customer(
                    "YNG-01",
                    "Khách mới",
                    None,
                    None,
                    created=datetime(2020, 1, 1),
                    active=_young(rule, now),
                ),
                customer(
                    "YNG-02",
                    "Khách mới 2",
                    None,
                    None,
                    created=datetime(2020, 1, 1),
                    active=_young(rule, now, 30),
                ),
                customer(
                    "NUL-01",
                    "Chưa từng hoạt động",
                    None,
                    None,
                    created=datetime(2010, 1, 1),
                    active=None,
                ),
            ],
        )

    h = Harness(
        connector=build_connector(tmp_path, "crm", url),
        engine=engine,
        by_kind={EMAIL: 1, PHONE: 2, CUSTOMER_ID: 1},
        bystander_count=1,
        access=[("customers", Action.EXPORTED, 2)],
        collected_from="2020-03-01T08:30:00",
        rectify=[("customers", Action.UPDATED, 2)],
        erase=[("customers", Action.ERASED, 2)],
        tables=["customers"],
        rule=rule,
        purge_now=now,
        held=Identity({PHONE: {HOLD_PHONE}}),
        add_purge_rows=add_purge_rows,
        old_live=lambda: h.count("customers", "customer_id LIKE 'OLD-%'"),
        protected=lambda: h.rows(
            "SELECT * FROM customers WHERE customer_id NOT LIKE 'OLD-%' ORDER BY id"
        ),
    )
    return h


# -- newsletter --------------------------------------------------------------------------------


def subscriber(
    email: str, name: str | None, *, subscribed: datetime, unsubscribed: datetime | None = None
) -> dict[str, Any]:
    return {
        "email": email,
        "name": name,
        "subscribed_at": subscribed,
        "consent_source": "website",
        "unsubscribed_at": unsubscribed,
    }


def make_newsletter(tmp_path: Path, url: str) -> Harness:
    engine = sa.create_engine(url)
    create_store(engine, "newsletter")
    _insert(
        engine,
        subscribers,
        [
            subscriber(A_EMAIL_RAW, A_NAME, subscribed=datetime(2021, 2, 3, 7, 45)),
            subscriber(B_EMAIL_RAW, B_NAME, subscribed=datetime(2022, 2, 2)),
        ],
    )
    rule = RetentionRule(
        "newsletter", "subscribers", "unsubscribed_at", days=30, only_when_set="unsubscribed_at"
    )
    now = datetime(2025, 6, 1, 12, 0)

    def add_purge_rows() -> None:
        old = [
            subscriber(
                f"old{i:02}@example.com",
                None,
                subscribed=datetime(2019, 1, 1),
                unsubscribed=_aged(rule, now, i),
            )
            for i in range(N_OLD)
        ]
        _insert(
            engine,
            subscribers,
            [
                *old,
                subscriber(
                    HOLD_EMAIL,
                    None,
                    subscribed=datetime(2015, 1, 1),
                    unsubscribed=datetime(2016, 1, 1),
                ),
                subscriber(
                    "yng01@example.com",
                    None,
                    subscribed=datetime(2019, 1, 1),
                    unsubscribed=_young(rule, now),
                ),
                # Subscribed long ago and never left: no unsubscribe date, never ages out.
                subscriber("loyal@example.com", None, subscribed=datetime(2010, 1, 1)),
            ],
        )

    h = Harness(
        connector=build_connector(tmp_path, "newsletter", url),
        engine=engine,
        by_kind={EMAIL: 1},
        bystander_count=1,
        access=[("subscribers", Action.EXPORTED, 1)],
        collected_from="2021-02-03T07:45:00",
        rectify=[("subscribers", Action.UPDATED, 1)],
        erase=[("subscribers", Action.ERASED, 1), ("suppression", Action.RETAINED, 1)],
        tables=["subscribers", "suppression"],
        rule=rule,
        purge_now=now,
        held=Identity({EMAIL: {HOLD_EMAIL}}),
        add_purge_rows=add_purge_rows,
        old_live=lambda: h.count("subscribers", "email LIKE 'old%'"),
        protected=lambda: h.rows(
            "SELECT * FROM subscribers WHERE email NOT LIKE 'old%' ORDER BY id"
        ),
    )
    return h


# -- orders ------------------------------------------------------------------------------------


def order(
    no: str,
    cid: str | None,
    email: str | None,
    name: str,
    phone: str | None,
    *,
    status: str,
    total: str,
    created: datetime,
) -> dict[str, Any]:
    return {
        "order_no": no,
        "customer_id": cid,
        "email": email,
        "recipient_name": name,
        "shipping_address": "8 Lê Lợi, Quận 1, TP. Hồ Chí Minh",
        "shipping_phone": phone,
        "status": status,
        "delivery_partner": "Giao Hàng Nhanh (GHN)",
        "total": Decimal(total),
        "payment_method": "card",
        "card_last4": "4242",
        "created_at": created,
        "delivered_at": created + timedelta(days=3) if status == "delivered" else None,
    }


def _add_orders(engine: sa.Engine, rows: list[tuple[dict[str, Any], int]]) -> None:
    """Insert orders, each with ``n`` items."""
    with engine.begin() as conn:
        for row, n in rows:
            inserted = conn.execute(sa.insert(orders).values(row)).inserted_primary_key
            assert inserted is not None
            oid = inserted[0]
            conn.execute(
                sa.insert(order_items),
                [
                    {
                        "order_id": oid,
                        "sku": f"SKU-{i}",
                        "product_name": "Sách luyện thi",
                        "quantity": 1,
                        "unit_price": Decimal("100000.00"),
                    }
                    for i in range(n)
                ],
            )


def make_orders(tmp_path: Path, url: str) -> Harness:
    engine = sa.create_engine(url)
    create_store(engine, "orders")
    _add_orders(
        engine,
        [
            (
                order(
                    "A1",
                    A_CID,
                    A_EMAIL_RAW,
                    A_NAME,
                    A_PHONE_RAW,
                    status="delivered",
                    total="1500000.00",
                    created=datetime(2023, 5, 10, 14, 0),
                ),
                2,
            ),
            (
                order(
                    "A2",
                    A_CID,
                    A_EMAIL_RAW,
                    A_NAME,
                    A_PHONE_RAW,
                    status="pending",
                    total="350000.50",
                    created=datetime(2024, 2, 1, 9, 15),
                ),
                1,
            ),
            (
                order(
                    "B1",
                    B_CID,
                    B_EMAIL_RAW,
                    B_NAME,
                    B_PHONE_RAW,
                    status="delivered",
                    total="99000.00",
                    created=datetime(2023, 8, 8),
                ),
                1,
            ),
        ],
    )
    rule = RetentionRule(
        "orders", "orders", "created_at", days=3653, action="anonymise", fiscal_year_end=True
    )
    now = datetime(2023, 6, 15, 12, 0)  # cutoff 2013-01-01: fiscal year 2012 and before

    def add_purge_rows() -> None:
        old = [
            (
                order(
                    f"OLD-{i:02}",
                    f"CO{i:02}",
                    f"old{i:02}@example.com",
                    f"Người nhận {i}",
                    f"091100{i:04}",
                    status="delivered",
                    total="10.00",
                    created=_aged(rule, now, i),
                ),
                1,
            )
            for i in range(N_OLD)
        ]
        _add_orders(
            engine,
            [
                *old,
                (
                    order(
                        "HLD-01",
                        HOLD_CID,
                        None,
                        "Người bị giữ",
                        "0977 000 009",
                        status="delivered",
                        total="20.00",
                        created=datetime(2011, 3, 3),
                    ),
                    1,
                ),
                (
                    order(
                        "YNG-01",
                        "CY1",
                        None,
                        "Người nhận mới",
                        "0911 000 001",
                        status="delivered",
                        total="30.00",
                        created=cutoff_for(rule, now),
                    ),
                    1,
                ),
                (
                    order(
                        "YNG-02",
                        "CY2",
                        None,
                        "Người nhận mới",
                        "0911 000 002",
                        status="pending",
                        total="40.00",
                        created=datetime(2013, 5, 1),
                    ),
                    1,
                ),
            ],
        )

    h = Harness(
        connector=build_connector(tmp_path, "orders", url),
        engine=engine,
        by_kind={EMAIL: 5, PHONE: 5, CUSTOMER_ID: 5},
        bystander_count=2,
        access=[("orders", Action.EXPORTED, 2), ("order_items", Action.EXPORTED, 3)],
        collected_from="2023-05-10T14:00:00",
        rectify=[("orders", Action.HISTORICAL, 1), ("orders", Action.UPDATED, 1)],
        # A2 is pending: an open order is still needed to deliver it, so it is deferred.
        erase=[
            ("orders", Action.ANONYMISED, 1),
            ("orders", Action.DEFERRED, 1),
            ("order_items", Action.RETAINED, 2),
            ("order_items", Action.DEFERRED, 1),
        ],
        tables=["orders", "order_items"],
        rule=rule,
        purge_now=now,
        held=Identity({CUSTOMER_ID: {HOLD_CID}}),
        add_purge_rows=add_purge_rows,
        old_live=lambda: h.count("orders", "order_no LIKE 'OLD-%' AND shipping_phone IS NOT NULL"),
        protected=lambda: (
            h.rows("SELECT * FROM orders WHERE order_no NOT LIKE 'OLD-%' ORDER BY id"),
            h.rows("SELECT * FROM order_items ORDER BY id"),
        ),
        purge_deletes=False,
    )
    return h


# -- recordings: a PBX's call records and the recordings they name ---------------------------


def write_wav(path: Path, seconds: float = 0.05, hz: int = 440) -> None:
    """A real, tiny mono 16-bit WAV file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = 8000
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / rate)))
        for i in range(int(rate * seconds))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


def call(
    uniqueid: str,
    number: str | None,
    started: datetime,
    file: str,
    *,
    inbound: bool = True,
    disposition: str = "ANSWERED",
) -> dict[str, Any]:
    """One leg of FreePBX's ``cdr``: the customer's ``number`` (None: none) calling the queue
    (``inbound``: in src, cnum and clid) or called by agent 201 (in dst)."""
    who = number or ""
    if inbound:
        leg = {"clid": f'"LE THI HOA" <{who}>', "src": who, "dst": "600", "cnum": who}
    else:
        leg = {"clid": '"Lê Thị Hoa" <201>', "src": "201", "dst": who, "cnum": "201"}
    return {
        "calldate": started,
        **leg,
        "dcontext": "ext-queues" if inbound else "from-internal",
        "channel": "PJSIP/viettel-00000001",
        "dstchannel": "PJSIP/201-00000002",
        "lastapp": "Queue" if inbound else "Dial",
        "lastdata": "600,t,,,300",
        "duration": 100,
        "billsec": 95,
        "disposition": disposition,
        "uniqueid": uniqueid,
        "recordingfile": file,
        "cnam": "LE THI HOA" if inbound else "Lê Thị Hoa",
        "linkedid": uniqueid,
    }


def add_calls(
    engine: sa.Engine, root: Path, rows: list[dict[str, Any]], *, with_audio: bool = True
) -> None:
    """Insert call legs (the table created if need be) and write the recordings they name
    under ``root``."""
    create_store(engine, "recordings")
    _insert(engine, cdr, rows)
    if with_audio:
        for row in rows:
            if row["recordingfile"]:
                write_wav(root / row["recordingfile"])


def make_recordings(tmp_path: Path, url: str) -> Harness:
    """The call archive (``recordings``): the PBX's ``cdr`` on the engine under test, its
    recordings in a monitor folder (``file.root``: ``<data_dir>/recordings/monitor``)."""
    engine = sa.create_engine(url)
    root = tmp_path / "recordings" / "monitor"
    add_calls(
        engine,
        root,
        [
            call("call-a1", "0912345678", datetime(2024, 5, 2, 10, 0), "call-a1.wav"),
            call(
                "call-a2",
                "+84912345678",
                datetime(2024, 7, 1, 15, 30),
                "2024/07/01/call-a2.wav",
                inbound=False,
            ),
            call("call-b1", "84987654321", datetime(2024, 6, 10, 9, 0), "call-b1.wav"),
        ],
    )
    rule = RetentionRule("recordings", "cdr", "calldate", days=180)
    now = datetime(2024, 9, 1, 12, 0)

    def add_purge_rows() -> None:
        add_calls(
            engine,
            root,
            [
                call(f"old-{i:02}", None, _aged(rule, now, i), f"old/old-{i:02}.wav")
                for i in range(N_OLD)
            ]
            + [
                call("hld-01", HOLD_PHONE, datetime(2023, 1, 1), "hld-01.wav"),
                call("yng-01", None, _young(rule, now), "yng-01.wav"),
            ],
        )

    def old_live() -> int:
        rows = h.count("cdr", "uniqueid LIKE 'old-%'")
        assert len(list((root / "old").glob("*.wav"))) == rows  # a recording goes with its row
        return rows

    def protected() -> Any:
        rows = h.rows("SELECT * FROM cdr WHERE uniqueid NOT LIKE 'old-%' ORDER BY uniqueid")
        return rows, sorted(
            str(p.relative_to(root)) for p in root.rglob("*.wav") if "old" not in p.parts
        )

    h = Harness(
        connector=build_connector(tmp_path, "recordings", url),
        engine=engine,
        by_kind={PHONE: 2},
        bystander_count=1,
        access=[("cdr", Action.EXPORTED, 2), (f"cdr{FILES}", Action.EXPORTED, 2)],
        collected_from="2024-05-02T10:00:00",
        rectify=[("cdr", Action.HISTORICAL, 2)],
        erase=[("cdr", Action.ERASED, 2), (f"cdr{FILES}", Action.ERASED, 2)],
        tables=["cdr"],
        rule=rule,
        purge_now=now,
        held=Identity({PHONE: {HOLD_PHONE}}),
        add_purge_rows=add_purge_rows,
        old_live=old_live,
        protected=protected,
        extra={"root": root},
    )
    return h


SQL_STORES: dict[str, Callable[[Path, str], Harness]] = {
    "crm": make_crm,
    "newsletter": make_newsletter,
    "orders": make_orders,
    "recordings": make_recordings,
}
