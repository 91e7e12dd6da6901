"""Synthetic Vietnamese customers for the four demo stores (``dsr seed --customers N``).

An education / coaching company's systems, as ``config/connectors.yaml`` expects them under
``data_dir``: ``crm.db`` (customers), ``newsletter.db`` (subscribers + suppression),
``orders.db`` (orders + order_items) and ``recordings/``: the support line's PBX as FreePBX keeps
it, ``cdr.db`` (table ``cdr``, one row per call leg) and one short WAV per recorded call under
``recordings/monitor/YYYY/MM/DD/``, which the row's ``recordingfile`` names relative to
``monitor/``. Schemas come from ``demo.stores``.

The data is deliberately messy, as real stores are (scenario S8): phones written in many
notations, e-mail addresses with mixed case and stray spaces, ~2 % of names stored in Unicode NFD,
~1 % of people with two CRM rows, people known only to the call archive, orders placed under a
second address but the same customer id, call recordings both younger and older than 180 days,
orders both inside and beyond the 10-year accounting period.

Fixed subjects the demo and tests rely on (always present, whatever N and seed):

``DEMO_SUBJECT`` Nguyễn Văn An, nguyen.van.an@example.com, 0912 345 678, customer id KH000001:
  * CRM: one row (name NFC, email as above, phone ``0912 345 678``);
  * newsletter: one active subscription, written ``Nguyen.Van.An@Example.com `` (mixed case and
    a trailing space: it must still be found by the normalised address);
  * orders: DH00000001 delivered (~8 months ago, email as CRM, Giao Hàng Nhanh (GHN), card
    ending 4242) and DH00000002 pending (3 days ago, placed under ``DEMO_WORK_EMAIL``
    an.nguyen.work@example.com with the same customer id, Viettel Post, COD): finding it by
    e-mail needs the CRM's customer id (identity expansion);
  * recordings: two calls in to the support line, uniqueid ``CALL-DEMO-0001`` and
    ``CALL-DEMO-0002``, the number written by the PBX as ``+84912345678`` and ``84912345678``,
    20 and 75 days old (both inside the 180-day retention period).
``DEMO_CALLER_ONLY`` Trần Thị Bích, 0987 654 321: no CRM row, no list entry, no orders; two calls
  (``CALL-DEMO-0003`` and ``CALL-DEMO-0004``, written ``0987654321`` and ``+84987654321``, 10
  and 40 days old). Her e-mail in the constant is only what a request would carry; it is on
  file nowhere.

A phone system writes numbers, not people: digits as the trunk delivered them or as they were
dialled (``0903111222``, ``+84903111222``, ``84903111222``), never spaces or dots. A customer
calling in is in ``src``, ``cnum`` and ``clid`` (``"NGUYEN VAN AN" <+84912345678>``; the caller
name as the network sends it, without diacritics, or the number again); an agent calling a
customer out puts the customer in ``dst`` and their own extension in ``src``. About one call in
ten is not answered and has no recording (``recordingfile`` empty).

Synthetic addresses only use the reserved ``example.com`` / ``example.net`` / ``example.org``
domains, so a misconfigured SMTP relay can never mail a real person.

Determinism: the same ``seed``, ``customers``, ``now`` and Faker version give the same data
(``now`` defaults to today 00:00 UTC, so runs on the same day agree), but for the update stamps
(below). All timestamps are naive UTC.

Existing stores: ``reset=True`` deletes the four stores (the three ``.db`` files with their
``-wal``/``-shm`` side files, and the whole ``recordings/`` folder, ``cdr.db`` and recordings)
first, but only stores seed created itself (``demo/marker.py``): anything else is refused before
a file is touched. Without it, seeding refuses (``InvalidInput``) when any store already holds
customer data; an existing suppression list is honoured (its addresses are refused), never
emptied.

A seed interrupted half-way leaves partial stores: run it again with ``reset=True``.

Shapes worth knowing: ``customers.courses`` is a ``"; "``-separated list (``""`` for none);
``gender`` is ``Nam`` / ``Nữ`` / ``Khác``; ``status`` is ``active`` / ``inactive`` / ``locked``;
``orders.total`` / ``unit_price`` are whole VND; ``payment_method`` is one of ``cod``, ``card``,
``bank_transfer``, ``momo``, ``vnpay``, ``zalopay`` and only ``card`` has ``card_last4``. Each
recorded call's WAV is its own file (0.25 s, 8 kHz mono 16-bit, ~4 KB; a copy, not a hard link,
so deleting or overwriting one never touches another); its length is not the call's
``duration``. The file name is FreePBX's: ``q-600-<number>-<YYYYMMDD>-<HHMMSS>-<uniqueid>.wav``
for a call to the queue, ``out-<number>-<extension>-...`` for a call out.

Update stamps: every row of the CRM, the list and the orders carries ``updated_at``, the time
seed (or ``import_subscribers``) wrote it, by the wall clock and not the synthetic ``now``: it
says when the row changed in the store, which is what lets the identifier index catch up on
changed rows only (a re-seed over an indexed store is caught up on, although the rows' own
dates lie in the past). It is the one value that differs between two seeds with the same
arguments.

Speed: rows are generated in chunks of ``CHUNK`` customers and bulk-inserted through the
SQLAlchemy connection as one DB-API ``executemany`` per table and chunk (``exec_driver_sql``
with pre-built tuples: SQLAlchemy's per-value bind processing cost more than generating the
rows). SQLite runs with WAL and synchronous=OFF while seeding; secondary indexes are dropped
and rebuilt after the load; audio files are written by two background threads. Faker is
called only to fill small pools (streets, wards, provinces, name parts) that
``random.Random(seed)`` then combines. The CRM, list and order stores hold identifiers only as
people typed them, as another product's tables would (no normalised copy: the connectors match
the typed values); so does the PBX's call table.
"""

from __future__ import annotations

import calendar
import io
import math
import shutil
import struct
import time
import unicodedata
import wave
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from random import Random
from typing import Any

import sqlalchemy as sa
from faker import Faker

from demo import marker
from demo import stores as ds
from dsr.core.runtime.progress import Progress, Report, ignore
from dsr.errors import InvalidInput
from dsr.files import create_private, open_private, private_dir
from dsr.identity import (
    EMAIL,
    suppression_digest,
    suppression_hash,
    try_normalise_email,
)
from dsr.spellings import stored_values

__all__ = [
    "CHUNK",
    "DEMO_CALLER_ONLY",
    "DEMO_NEW_PHONE",
    "DEMO_CUSTOMER_ID",
    "DEMO_RECORDS",
    "DEMO_SUBJECT",
    "DEMO_WORK_EMAIL",
    "DELIVERY_PARTNERS",
    "ImportReport",
    "MAX_CUSTOMERS",
    "SeedReport",
    "import_subscribers",
    "seed",
    "store_paths",
]

# --------------------------------------------------------------------------- fixed subjects

DEMO_SUBJECT: dict[str, str] = {
    "name": "Nguyễn Văn An",
    "email": "nguyen.van.an@example.com",
    "phone": "0912 345 678",
}
DEMO_CUSTOMER_ID = "KH000001"
DEMO_WORK_EMAIL = "an.nguyen.work@example.com"
DEMO_CALLER_ONLY: dict[str, str] = {
    "name": "Trần Thị Bích",
    "email": "tran.thi.bich@example.com",  # on file nowhere: only her phone is in the archive
    "phone": "0987 654 321",
}
# What the fixed subjects have on file (ids are stable across seeds).
DEMO_RECORDS: dict[str, Any] = {
    "subject": {
        "customer_id": DEMO_CUSTOMER_ID,
        "crm_rows": 1,
        "subscriber_email": "Nguyen.Van.An@Example.com ",
        "orders": {"DH00000001": "delivered", "DH00000002": "pending"},
        "order_emails": {"DH00000001": DEMO_SUBJECT["email"], "DH00000002": DEMO_WORK_EMAIL},
        # cdr.uniqueid -> the number in the row's src, as the PBX wrote it
        "calls": {
            "CALL-DEMO-0001": "+84912345678",
            "CALL-DEMO-0002": "84912345678",
        },
    },
    "caller_only": {
        "calls": {
            "CALL-DEMO-0003": "0987654321",
            "CALL-DEMO-0004": "+84987654321",
        },
    },
}
# The demo subjects' numbers, and DEMO_NEW_PHONE (what the demo's rectify request sets): no
# synthetic customer or caller ever gets one, so erasing the demo subject touches no one else.
DEMO_NEW_PHONE = "0903 111 222"
_RESERVED_NATIONAL = {"912345678", "987654321", "903111222"}

DELIVERY_PARTNERS = ("Giao Hàng Nhanh (GHN)", "Viettel Post")
CHUNK = 5000  # customers generated and inserted per batch
# More than the benchmarks use (100k, ~1 GB with audio); beyond it a typo writes for hours.
MAX_CUSTOMERS = 200_000

# --------------------------------------------------------------------------- vocabularies

_LAST_NAMES = [  # (surname, relative frequency) — roughly Vietnam's distribution
    ("Nguyễn", 38),
    ("Trần", 11),
    ("Lê", 9),
    ("Phạm", 7),
    ("Hoàng", 4),
    ("Huỳnh", 3),
    ("Phan", 4),
    ("Vũ", 3),
    ("Võ", 3),
    ("Đặng", 2),
    ("Bùi", 2),
    ("Đỗ", 2),
    ("Hồ", 1),
    ("Ngô", 1),
    ("Dương", 1),
    ("Lý", 1),
    ("Mai", 1),
    ("Đinh", 1),
    ("Trương", 1),
    ("Lâm", 1),
]
_MIDDLE_MALE = [
    "Văn",
    "Văn",
    "Văn",
    "Đức",
    "Minh",
    "Quang",
    "Hữu",
    "Thành",
    "Công",
    "Xuân",
    "Tuấn",
    "Hoàng",
    "Thế",
    "Tấn",
    "Bảo",
    "Gia",
    "Trọng",
    "Đình",
]
_MIDDLE_FEMALE = [
    "Thị",
    "Thị",
    "Thị",
    "Ngọc",
    "Thu",
    "Thanh",
    "Phương",
    "Minh",
    "Kim",
    "Bảo",
    "Hoài",
    "Mỹ",
    "Khánh",
    "Diệu",
    "Thùy",
    "Hồng",
]
_FIRST_MALE = [
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Đạt",
    "Hải",
    "Hiếu",
    "Hòa",
    "Khánh",
    "Long",
    "Lộc",
    "Phong",
    "Quân",
    "Sơn",
    "Tài",
    "Thắng",
    "Toàn",
    "Việt",
    "Tuấn",
    "Kiên",
]
_FIRST_FEMALE = [
    "Anh",
    "Bích",
    "Dung",
    "Giang",
    "Hà",
    "Hạnh",
    "Hằng",
    "Huyền",
    "Lan",
    "Loan",
    "My",
    "Nga",
    "Nhung",
    "Oanh",
    "Quỳnh",
    "Tâm",
    "Trang",
    "Trinh",
    "Uyên",
    "Vy",
]

COURSES = [
    "IELTS 6.5",
    "IELTS 7.0",
    "IELTS 7.5+",
    "TOEIC 750",
    "Tiếng Anh giao tiếp",
    "Tiếng Nhật N3",
    "Tiếng Hàn sơ cấp",
    "Tiếng Trung HSK 4",
    "Lập trình Python",
    "Lập trình Web (JavaScript)",
    "Phân tích dữ liệu với Excel",
    "Kỹ năng mềm",
    "Kỹ năng thuyết trình",
    "Luyện thi đại học môn Toán",
    "Mentoring nghề nghiệp 1-1",
    "Quản lý thời gian",
    "Marketing số",
    "Thiết kế đồ họa Canva",
]
PRODUCTS = [  # (sku, name, unit price in VND)
    ("KH-IELTS70", "Khóa IELTS 7.0 (3 tháng)", 8_900_000),
    ("KH-IELTS65", "Khóa IELTS 6.5 (3 tháng)", 7_500_000),
    ("KH-TOEIC", "Khóa TOEIC 750 (2 tháng)", 4_200_000),
    ("KH-PY", "Khóa Lập trình Python cơ bản", 3_600_000),
    ("KH-WEB", "Khóa Lập trình Web", 5_400_000),
    ("KH-SOFT", "Khóa Kỹ năng mềm", 1_800_000),
    ("KH-MENTOR", "Gói Mentoring 1-1 (4 buổi)", 2_400_000),
    ("SACH-IELTS", "Sách luyện thi IELTS Cambridge 18", 245_000),
    ("SACH-TOEIC", "Sách ETS TOEIC 2024", 199_000),
    ("SACH-PY", "Giáo trình Python cho người mới", 159_000),
    ("TL-BOX", "Bộ tài liệu học tập in (hộp)", 350_000),
    ("TAI-NGHE", "Tai nghe luyện nghe có micro", 420_000),
    ("SO-TAY", "Sổ tay từ vựng", 65_000),
]
PAYMENT_METHODS = [
    ("cod", 30),
    ("card", 28),
    ("bank_transfer", 20),
    ("momo", 12),
    ("vnpay", 6),
    ("zalopay", 4),
]
CONSENT_SOURCES = [
    "website_form",
    "checkout",
    "trial_class",
    "webinar",
    "facebook_lead_ad",
    "event_booth",
]
# The support line's PBX: the company number customers dial, its queue, the agents' extensions.
PBX_DID = "02873001234"
PBX_QUEUE = "600"
PBX_EXTENSIONS = ("201", "202", "203", "204", "205")
# Dispositions of a call leg the PBX records (the answered ones have a recording).
_UNANSWERED = ("NO ANSWER", "BUSY", "FAILED")
_EMAIL_DOMAINS = ["example.com", "example.com", "example.net", "example.org"]
_WORK_DOMAINS = ["work.example.com", "congty.example.net", "edu.example.org"]
# Mobile prefixes valid for every number in phonenumbers' metadata; 26 x 10**7 <= 2**28.
_GOOD_PREFIXES = [
    "90",
    "91",
    "93",
    "94",
    "96",
    "97",
    "98",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "38",
    "39",
    "70",
    "76",
    "77",
    "78",
    "79",
    "81",
    "82",
    "83",
    "85",
    "86",
    "88",
]

YEAR = 365 * 86400
DAY = 86400

# --------------------------------------------------------------------------- reports


@dataclass
class SeedReport:
    """What a seed run wrote, per store, and how long it took."""

    data_dir: str
    customers: int = 0  # distinct people with a CRM row (the N asked for)
    crm_rows: int = 0
    duplicate_crm_rows: int = 0
    subscribers: int = 0
    unsubscribed: int = 0
    refused_suppressed: int = 0
    suppression_entries: int = 0
    orders: int = 0
    order_items: int = 0
    calls: int = 0  # rows of the PBX's cdr table (call legs)
    caller_only_people: int = 0
    audio_files: int = 0  # recordings written (answered calls)
    audio_bytes: int = 0
    elapsed_s: float = 0.0
    # seconds per phase: deleting old stores (reset), generating + inserting rows, waiting for
    # the audio files still being written, building indexes
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def stores(self) -> dict[str, dict[str, int]]:
        """Row counts per store and table."""
        return {
            "crm": {"customers": self.crm_rows},
            "newsletter": {
                "subscribers": self.subscribers,
                "suppression": self.suppression_entries,
            },
            "orders": {"orders": self.orders, "order_items": self.order_items},
            "recordings": {"cdr": self.calls, "recording_files": self.audio_files},
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["stores"] = self.stores
        return data


@dataclass
class ImportReport:
    """Result of an import into the newsletter list: suppressed addresses are refused."""

    imported: int = 0
    refused_suppressed: int = 0
    skipped_existing: int = 0  # already on the list (subscribed or unsubscribed)
    invalid: int = 0  # not an e-mail address

    @property
    def refused(self) -> int:
        return self.refused_suppressed

    def to_json(self) -> dict[str, int]:
        return asdict(self)


# --------------------------------------------------------------------------- paths & engines


def store_paths(data_dir: Path) -> dict[str, Path]:
    """Where each demo store lives under ``data_dir`` (matches config/connectors.yaml)."""
    data_dir = Path(data_dir)
    rec = data_dir / "recordings"
    return {
        "crm": data_dir / "crm.db",
        "newsletter": data_dir / "newsletter.db",
        "orders": data_dir / "orders.db",
        "recordings": rec / "cdr.db",
        "monitor": rec / "monitor",  # the PBX's recordings: YYYY/MM/DD/<recordingfile name>
    }


def _engine(path: Path, *, bulk: bool) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        if bulk:
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    return engine


def _delete_stores(data_dir: Path) -> None:
    paths = store_paths(data_dir)
    databases = {key: paths[key] for key in ("crm", "newsletter", "orders", "recordings")}
    marker.check_ours(databases, data_dir / "recordings")  # before anything is deleted
    for key in ("crm", "newsletter", "orders"):
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{paths[key]}{suffix}").unlink(missing_ok=True)
    rec = data_dir / "recordings"
    if rec.is_dir():
        shutil.rmtree(rec)


def _count(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


# --------------------------------------------------------------------------- identity helpers


def _fold_ascii(text: str) -> str:
    """'Nguyễn Đức' -> 'nguyen duc' (for e-mail local parts only)."""
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _hash_norm(norm: str, secret: str) -> str:
    """suppression_hash for an already-normalised address (no re-validation)."""
    return suppression_digest(norm, secret)


def _permute(x: int) -> int:
    """A fixed pseudo-random permutation of [0, 2**28) (4-round Feistel network)."""
    a, b = x >> 14, x & 0x3FFF  # rounds unrolled: this runs once per synthetic phone
    a ^= ((b * 0x9E3779B1 + 0x1BD1) >> 13) & 0x3FFF
    b ^= ((a * 0x9E3779B1 + 0x2C1B) >> 13) & 0x3FFF
    a ^= ((b * 0x9E3779B1 + 0x0F3D) >> 13) & 0x3FFF
    b ^= ((a * 0x9E3779B1 + 0x3A7E) >> 13) & 0x3FFF
    return (a << 14) | b


_PHONE_SPACE = len(_GOOD_PREFIXES) * 10**7
_RESERVED_INDEX = {_GOOD_PREFIXES.index(n[:2]) * 10**7 + int(n[2:]) for n in _RESERVED_NATIONAL}
MAX_PHONES = 10**7  # serials above this could meet a reserved demo number


def _national(serial: int) -> str:
    """A unique, valid Vietnamese mobile number (9 national digits) for each serial.

    Cycle-walks a permutation of [0, 2**28) until it lands in the valid space
    (prefix x 10**7 numbers) outside the demo subjects' numbers: a bijection, so no two
    serials share a number and no serial gets a demo number.
    """
    if serial >= MAX_PHONES:
        raise InvalidInput("too many customers for the synthetic phone space")
    x = _permute(serial)
    while x >= _PHONE_SPACE or x in _RESERVED_INDEX:
        x = _permute(x)
    prefix, rest = divmod(x, 10**7)
    return f"{_GOOD_PREFIXES[prefix]}{rest:07d}"


_PHONE_FORMATS = [  # (format, weight); n = 9 national digits
    (lambda n: f"0{n[:3]} {n[3:6]} {n[6:]}", 22),
    (lambda n: f"+84{n}", 18),
    (lambda n: f"0{n}", 18),
    (lambda n: f"84-{n[:3]}-{n[3:6]}-{n[6:]}", 8),
    (lambda n: f"0{n[:3]}.{n[3:6]}.{n[6:]}", 10),
    (lambda n: f"(+84) {n[:3]} {n[3:6]} {n[6:]}", 8),
    (lambda n: f"+84 {n[:3]} {n[3:6]} {n[6:]}", 10),
    (lambda n: f"0{n[:3]}-{n[3:6]}-{n[6:]}", 6),
]


# How a phone system writes a number: digits as the trunk delivered them or as they were dialled.
_PBX_FORMATS = [
    (lambda n: f"0{n}", 5),
    (lambda n: f"+84{n}", 3),
    (lambda n: f"84{n}", 2),
]


def _weighted(items: list[tuple[Any, int]]) -> list[Any]:
    out: list[Any] = []
    for item, weight in items:
        out.extend([item] * weight)
    return out


# --------------------------------------------------------------------------- audio


def _wav_bytes(seconds: float = 0.25, rate: int = 8000, freq: float = 440.0) -> bytes:
    """A quiet sine tone: 8 kHz mono 16-bit PCM, ~4 KB (one filesystem block)."""
    frames = int(seconds * rate)
    samples = struct.pack(
        f"<{frames}h",
        *(int(3000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(frames)),
    )
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples)
    return buf.getvalue()


# --------------------------------------------------------------------------- the generator


@dataclass
class _Batch:
    customers: list[dict[str, Any]] = field(default_factory=list)
    subscribers: list[dict[str, Any]] = field(default_factory=list)
    suppression: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)


class _Generator:
    """Streams synthetic rows, chunk by chunk, from one ``random.Random(seed)``."""

    def __init__(
        self, *, seed: int, now: datetime, secret_key: str, region: str, suppressed: set[str]
    ) -> None:
        self.rng = Random(seed)
        self.now = now
        self.secret = secret_key
        self.region = region
        self.suppressed = suppressed
        self.phone_serial = 0
        self.email_serial = 0
        self.customer_no = 1  # KH000001 is the demo subject
        self.order_id = 0
        self.item_id = 0
        self.call_no = 0
        self.dup_no = 0
        self.stats = SeedReport(data_dir="")
        self._pools(seed)

    # -- pools (the only Faker calls) ---------------------------------------------------
    def _pools(self, seed: int) -> None:
        fake = Faker("vi_VN")
        fake.seed_instance(seed)
        rng = Random(seed + 1)
        provider = fake.provider("faker.providers.person")
        last = dict(_LAST_NAMES)
        for name in getattr(provider, "last_names", ()):
            last.setdefault(name, 1)
        self.last_names = _weighted(list(last.items()))
        self.middle = {"Nam": _MIDDLE_MALE, "Nữ": _MIDDLE_FEMALE}
        self.first = {
            "Nam": sorted(set(_FIRST_MALE) | set(getattr(provider, "first_names_male", ()))),
            "Nữ": sorted(set(_FIRST_FEMALE) | set(getattr(provider, "first_names_female", ()))),
        }
        self.first["Khác"] = self.first["Nam"] + self.first["Nữ"]
        self.middle["Khác"] = self.middle["Nam"] + self.middle["Nữ"]
        self.streets = [fake.street_address() for _ in range(3000)]
        self.wards = [fake.commune() for _ in range(600)]
        self.provinces = [fake.province() for _ in range(300)] + [
            "Thành phố Hà Nội",
            "TP. Hồ Chí Minh",
            "Thành phố Đà Nẵng",
            "TP. Hải Phòng",
            "Thành phố Cần Thơ",
            "TP. Huế",
        ] * 30
        self.agents = sorted(
            {
                f"{rng.choice(self.last_names)} {rng.choice(_MIDDLE_FEMALE + _MIDDLE_MALE)} "
                f"{rng.choice(_FIRST_FEMALE + _FIRST_MALE)}"
                for _ in range(40)
            }
        )
        self.ascii_cache: dict[str, str] = {}
        self.payment = _weighted(PAYMENT_METHODS)
        self.phone_formats = _weighted(_PHONE_FORMATS)
        self.pbx_formats = _weighted(_PBX_FORMATS)
        # Each extension's agent (the name the PBX shows for it).
        self.extension_names = {
            ext: self.agents[i % len(self.agents)] for i, ext in enumerate(PBX_EXTENSIONS)
        }
        self.wav = _wav_bytes()

    # -- small helpers -------------------------------------------------------------------
    def ascii(self, part: str) -> str:
        got = self.ascii_cache.get(part)
        if got is None:
            got = self.ascii_cache[part] = _fold_ascii(part).replace(" ", "")
        return got

    def ago(self, max_seconds: float, *, min_seconds: float = 0) -> datetime:
        secs = min_seconds + self.rng.random() * (max_seconds - min_seconds)
        return self.now - timedelta(seconds=int(secs))

    def between(self, start: datetime, end: datetime) -> datetime:
        span = max(0.0, (end - start).total_seconds())
        return start + timedelta(seconds=int(self.rng.random() * span))

    def new_phone(self) -> str:
        self.phone_serial += 1
        return _national(self.phone_serial)

    def fmt_phone(self, national: str) -> str:
        fmt = self.phone_formats[int(self.rng.random() * len(self.phone_formats))]
        return str(fmt(national))

    def pbx_phone(self, national: str) -> str:
        fmt = self.pbx_formats[int(self.rng.random() * len(self.pbx_formats))]
        return str(fmt(national))

    def mess_email(self, canonical: str) -> str:
        r = self.rng.random()
        if r < 0.06:  # Title-cased, as typed on a phone keyboard
            local, domain = canonical.split("@")
            return ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.capitalize()
        if r < 0.09:
            return canonical + " "
        if r < 0.10:
            return " " + canonical.upper() + " "
        return canonical

    def person(self) -> dict[str, Any]:
        rng = self.rng
        r = rng.random()
        gender = "Nam" if r < 0.495 else ("Nữ" if r < 0.99 else "Khác")
        last = self.last_names[int(rng.random() * len(self.last_names))]
        middle = rng.choice(self.middle[gender])
        first = rng.choice(self.first[gender])
        name = f"{last} {middle} {first}"
        a_last, a_mid, a_first = self.ascii(last), self.ascii(middle), self.ascii(first)
        self.email_serial += 1
        s = self.email_serial
        style = int(rng.random() * 5)
        if style == 0:
            local = f"{a_last}.{a_mid}.{a_first}{s}"
        elif style == 1:
            local = f"{a_first}{a_last}{s}"
        elif style == 2:
            local = f"{a_first}.{a_last}{s}"
        elif style == 3:
            local = f"{a_last}{a_mid}{a_first}{s}"
        else:
            local = f"{a_first}{a_mid[:1]}{a_last}.{s}"
        email = f"{local}@{_EMAIL_DOMAINS[int(rng.random() * len(_EMAIL_DOMAINS))]}"
        return {
            "name": name,
            "gender": gender,
            "ascii": (a_last, a_mid, a_first),
            "email": email,
            "national": self.new_phone(),
            "address": self.address(),
        }

    def address(self) -> str:
        rng = self.rng
        return f"{rng.choice(self.streets)}, {rng.choice(self.wards)}, {rng.choice(self.provinces)}"

    def courses(self) -> str:
        rng = self.rng
        if rng.random() < 0.08:
            return ""
        k = 1 if rng.random() < 0.6 else (2 if rng.random() < 0.8 else 3)
        return "; ".join(rng.sample(COURSES, k))

    # -- rows ------------------------------------------------------------------------------
    def crm_row(
        self,
        p: dict[str, Any],
        customer_id: str,
        *,
        nfd: bool,
        email: str | None = None,
        national: str | None = None,
        created: datetime | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        email = email or p["email"]
        national = national or p["national"]
        created = created or p["created_at"]
        r = rng.random()
        if r < 0.70:
            status = "active"
            last = self.between(max(created, self.now - timedelta(days=180)), self.now)
        elif r < 0.95:
            status = "inactive"
            last = self.between(created, max(created, self.now - timedelta(days=181)))
        else:
            status = "locked"
            last = self.between(created, self.now)
        written_email = self.mess_email(email)
        written_phone = self.fmt_phone(national)
        return {
            "customer_id": customer_id,
            "full_name": unicodedata.normalize("NFD", p["name"]) if nfd else p["name"],
            "email": written_email,
            "phone": written_phone,
            "address": p["address"],
            "gender": p["gender"],
            "courses": p["courses"],
            "status": status,
            "last_activity_at": last,
            "created_at": created,
        }

    def subscribe(
        self, b: _Batch, *, email: str, name: str | None, since: datetime, source: str
    ) -> bool:
        """Add a list entry unless the address is suppressed; True when added."""
        rng = self.rng
        if _hash_norm(email, self.secret) in self.suppressed:
            self.stats.refused_suppressed += 1
            return False
        subscribed = self.between(since, min(self.now, since + timedelta(days=60)))
        unsub = None
        if rng.random() < 0.15:
            unsub = self.between(subscribed, self.now)
            self.stats.unsubscribed += 1
        written = self.mess_email(email)
        b.subscribers.append(
            {
                "email": written,
                "name": name,
                "subscribed_at": subscribed,
                "consent_source": source,
                "unsubscribed_at": unsub,
            }
        )
        self.stats.subscribers += 1
        return True

    def add_orders(self, b: _Batch, p: dict[str, Any], customer_id: str) -> None:
        rng = self.rng
        r = rng.random()
        n = (
            0
            if r < 0.22
            else 1
            if r < 0.52
            else 2
            if r < 0.74
            else 3
            if r < 0.87
            else (4 if r < 0.95 else 5)
        )
        if not n:
            return
        work_email = None
        if rng.random() < 0.06:  # orders under a second address, same customer id
            a_last, _a_mid, a_first = p["ascii"]
            self.email_serial += 1
            work_email = f"{a_first}.{a_last}.{self.email_serial}@{rng.choice(_WORK_DOMAINS)}"
        for _ in range(n):
            created = self.between(p["created_at"], self.now)
            age_days = (self.now - created).total_seconds() / DAY
            if age_days < 2:
                status = "pending"
            elif age_days < 7:
                status = (
                    "shipped"
                    if rng.random() < 0.6
                    else ("pending" if rng.random() < 0.3 else "delivered")
                )
            else:
                status = "delivered" if rng.random() < 0.995 else "shipped"
            delivered = (
                created + timedelta(seconds=int(DAY * (1 + rng.random() * 4)))
                if status == "delivered"
                else None
            )
            if delivered is not None and delivered > self.now:
                delivered = self.now
            canonical = work_email if (work_email and rng.random() < 0.6) else p["email"]
            written_email = self.mess_email(canonical)
            if rng.random() < 0.85:
                recipient, national, address = p["name"], p["national"], p["address"]
            else:  # a gift / relative: another name and phone
                other = self.last_names[int(rng.random() * len(self.last_names))]
                g = "Nam" if rng.random() < 0.5 else "Nữ"
                recipient = f"{other} {rng.choice(self.middle[g])} {rng.choice(self.first[g])}"
                national = self.new_phone()
                address = p["address"] if rng.random() < 0.5 else self.address()
            if rng.random() < 0.02:
                recipient = unicodedata.normalize("NFD", recipient)
            written_phone = self.fmt_phone(national)
            method = self.payment[int(rng.random() * len(self.payment))]
            self.order_id += 1
            oid = self.order_id
            total = 0
            for _k in range(1 if rng.random() < 0.6 else (2 if rng.random() < 0.75 else 3)):
                sku, pname, price = PRODUCTS[int(rng.random() * len(PRODUCTS))]
                qty = 1 if (price > 1_000_000 or rng.random() < 0.7) else 2
                self.item_id += 1
                b.items.append(
                    {
                        "id": self.item_id,
                        "order_id": oid,
                        "sku": sku,
                        "product_name": pname,
                        "quantity": qty,
                        "unit_price": price,
                    }
                )
                total += qty * price
            total += 0 if total >= 500_000 else 30_000  # shipping fee
            b.orders.append(
                {
                    "id": oid,
                    "order_no": f"DH{oid:08d}",
                    "customer_id": customer_id,
                    "email": written_email,
                    "recipient_name": recipient,
                    "shipping_address": address,
                    "shipping_phone": written_phone,
                    "status": status,
                    "delivery_partner": DELIVERY_PARTNERS[int(rng.random() * 2)],
                    "total": total,
                    "payment_method": method,
                    "card_last4": f"{int(rng.random() * 10000):04d}" if method == "card" else None,
                    "created_at": created,
                    "delivered_at": delivered,
                }
            )

    def call_leg(
        self,
        uniqueid: str,
        started: datetime,
        number: str,
        *,
        inbound: bool,
        disposition: str,
        extension: str,
        caller: str,
        talk: int,
        ring: int,
    ) -> dict[str, Any]:
        """One row of the PBX's ``cdr`` table, as FreePBX writes it at hang-up: a customer
        calling the support queue (``inbound``), or an agent calling a customer out."""
        answered = disposition == "ANSWERED"
        agent = self.extension_names[extension]
        when = f"{started:%Y%m%d-%H%M%S}"
        trunk = f"PJSIP/viettel-{self.call_no:08x}"
        phone = f"PJSIP/{extension}-{self.call_no + 1:08x}"
        if inbound:
            name = f"q-{PBX_QUEUE}-{number}-{when}-{uniqueid}.wav"
            leg = {
                "clid": f'"{caller or number}" <{number}>',
                "src": number,
                "dst": PBX_QUEUE,
                "dcontext": "ext-queues",
                "channel": trunk,
                "dstchannel": phone if answered else "",
                "lastapp": "Queue",
                "lastdata": f"{PBX_QUEUE},t,,,300",
                "did": PBX_DID,
                "cnum": number,
                "cnam": caller,
                "outbound_cnum": "",
                "dst_cnam": agent if answered else "",
            }
        else:
            name = f"out-{number}-{extension}-{when}-{uniqueid}.wav"
            leg = {
                "clid": f'"{agent}" <{extension}>',
                "src": extension,
                "dst": number,
                "dcontext": "from-internal",
                "channel": phone,
                "dstchannel": trunk,
                "lastapp": "Dial",
                "lastdata": f"PJSIP/{number}@viettel,300,Tt",
                "did": "",
                "cnum": extension,
                "cnam": agent,
                "outbound_cnum": PBX_DID,
                "dst_cnam": "",
            }
        return {
            "calldate": started,
            **leg,
            "duration": ring + talk,
            "billsec": talk,
            "disposition": disposition,
            "amaflags": 3,
            "accountcode": "",
            "uniqueid": uniqueid,
            "userfield": "",
            # Under the monitor folder by the call's day, as FreePBX lays recordings out; the row
            # names the day folder too (FreePBX keeps the bare name and reads the day from it).
            "recordingfile": f"{started:%Y/%m/%d}/{name}" if answered else "",
            "outbound_cnam": "",
            "linkedid": uniqueid,
            "peeraccount": "",
            "sequence": self.call_no,
        }

    def add_calls(
        self, b: _Batch, national: str, since: datetime, n: int, *, caller: str = ""
    ) -> None:
        """``n`` calls with the person on ``national``: most to the support queue, some an agent
        made; about one in ten not answered (no recording)."""
        rng = self.rng
        floor = max(since, self.now - timedelta(days=730))
        for _ in range(n):
            started = self.between(floor, self.now - timedelta(minutes=30))
            r = rng.random()
            disposition = "ANSWERED" if r < 0.9 else _UNANSWERED[int((r - 0.9) * 30) % 3]
            answered = disposition == "ANSWERED"
            self.call_no += 1
            uniqueid = f"{calendar.timegm(started.timetuple())}.{self.call_no}"
            inbound = rng.random() < 0.7
            b.calls.append(
                self.call_leg(
                    uniqueid,
                    started,
                    self.pbx_phone(national),
                    inbound=inbound,
                    disposition=disposition,
                    extension=PBX_EXTENSIONS[int(rng.random() * len(PBX_EXTENSIONS))],
                    caller=caller if rng.random() < 0.6 else "",
                    talk=20 + int(rng.random() * rng.random() * 1800) if answered else 0,
                    ring=3 + int(rng.random() * 30),
                )
            )

    # -- one customer ------------------------------------------------------------------------
    def customer(self, b: _Batch, i: int) -> None:
        rng = self.rng
        p = self.person()
        p["created_at"] = self.ago(12 * YEAR, min_seconds=DAY)
        p["courses"] = self.courses()
        self.customer_no += 1
        cid = f"KH{self.customer_no:06d}"
        b.customers.append(self.crm_row(p, cid, nfd=(i % 50 == 7)))
        self.stats.customers += 1
        if i % 100 == 37:  # the same person registered twice
            own_id = self.dup_no % 2 == 0
            self.dup_no += 1
            if own_id:  # a second account: new customer id and new address, same phone
                self.customer_no += 1
                dup_cid = f"KH{self.customer_no:06d}"
                a_last, _a_mid, a_first = p["ascii"]
                self.email_serial += 1
                email = f"{a_first}{a_last}.{self.email_serial}@example.net"
                row = self.crm_row(
                    p,
                    dup_cid,
                    nfd=rng.random() < 0.5,
                    email=email,
                    created=self.between(p["created_at"], self.now),
                )
            else:  # same account re-keyed by an import: same id and address, new phone
                row = self.crm_row(
                    p,
                    cid,
                    nfd=rng.random() < 0.5,
                    national=self.new_phone(),
                    created=self.between(p["created_at"], self.now),
                )
            b.customers.append(row)
            self.stats.duplicate_crm_rows += 1
        if rng.random() < 0.6:
            self.subscribe(
                b,
                email=p["email"],
                name=None if rng.random() < 0.1 else p["name"],
                since=p["created_at"],
                source=rng.choice(CONSENT_SOURCES),
            )
        self.add_orders(b, p, cid)
        if rng.random() < 0.3:
            r = rng.random()
            self.add_calls(
                b,
                p["national"],
                p["created_at"],
                1 if r < 0.6 else 2 if r < 0.9 else 3,
                caller=_fold_ascii(p["name"]).upper(),
            )
        if i % 50 == 23:  # someone who only ever phoned in
            self.add_calls(
                b, self.new_phone(), self.now - timedelta(days=730), 1 + int(rng.random() * 3)
            )
            self.stats.caller_only_people += 1
        if i % 33 == 5:  # a lead: on the list, not a customer
            lead = self.person()
            self.subscribe(
                b,
                email=lead["email"],
                name=lead["name"],
                since=self.ago(5 * YEAR, min_seconds=DAY),
                source="landing_page",
            )
        if i % 200 == 11:  # a former subscriber who was erased; an old CSV re-imports them
            gone = self.person()
            b.suppression.append(
                {
                    "email_hash": _hash_norm(gone["email"], self.secret),
                    "added_at": self.ago(3 * YEAR, min_seconds=DAY),
                    "reason": "erasure",
                }
            )
            self.suppressed.add(b.suppression[-1]["email_hash"])
            self.stats.suppression_entries += 1
            self.subscribe(
                b,
                email=gone["email"],
                name=gone["name"],
                since=self.ago(6 * YEAR, min_seconds=DAY),
                source="import_csv_2019",
            )

    # -- the fixed subjects --------------------------------------------------------------------
    def demo(self, b: _Batch) -> None:
        now = self.now
        subj = DEMO_SUBJECT
        created = now - timedelta(days=3 * 365 + 17, hours=5)
        b.customers.append(
            {
                "customer_id": DEMO_CUSTOMER_ID,
                "full_name": subj["name"],
                "email": subj["email"],
                "phone": subj["phone"],
                "address": "12 Nguyễn Trãi, Phường Bến Thành, TP. Hồ Chí Minh",
                "gender": "Nam",
                "courses": "IELTS 7.0; Kỹ năng mềm",
                "status": "active",
                "last_activity_at": now - timedelta(days=2, hours=3),
                "created_at": created,
            }
        )
        self.stats.customers += 1
        written = DEMO_RECORDS["subject"]["subscriber_email"]
        if _hash_norm(subj["email"], self.secret) in self.suppressed:
            self.stats.refused_suppressed += 1
        else:
            b.subscribers.append(
                {
                    "email": written,
                    "name": subj["name"],
                    "subscribed_at": created + timedelta(days=1),
                    "consent_source": "website_form",
                    "unsubscribed_at": None,
                }
            )
            self.stats.subscribers += 1
        orders_ = [
            (
                "DH00000001",
                "delivered",
                subj["email"],
                now - timedelta(days=240, hours=4),
                "Giao Hàng Nhanh (GHN)",
                "card",
                "4242",
                "0912345678",
                [
                    ("KH-IELTS70", "Khóa IELTS 7.0 (3 tháng)", 1, 8_900_000),
                    ("SACH-IELTS", "Sách luyện thi IELTS Cambridge 18", 1, 245_000),
                ],
            ),
            (
                "DH00000002",
                "pending",
                DEMO_WORK_EMAIL,
                now - timedelta(days=3, hours=2),
                "Viettel Post",
                "cod",
                None,
                "0912.345.678",
                [("SACH-TOEIC", "Sách ETS TOEIC 2024", 2, 199_000)],
            ),
        ]
        for no, status, email, created_o, partner, method, last4, phone, items in orders_:
            self.order_id += 1
            total = 0
            for sku, pname, qty, price in items:
                self.item_id += 1
                b.items.append(
                    {
                        "id": self.item_id,
                        "order_id": self.order_id,
                        "sku": sku,
                        "product_name": pname,
                        "quantity": qty,
                        "unit_price": price,
                    }
                )
                total += qty * price
            total += 0 if total >= 500_000 else 30_000
            b.orders.append(
                {
                    "id": self.order_id,
                    "order_no": no,
                    "customer_id": DEMO_CUSTOMER_ID,
                    "email": email,
                    "recipient_name": subj["name"],
                    "shipping_address": "12 Nguyễn Trãi, Phường Bến Thành, TP. Hồ Chí Minh",
                    "shipping_phone": phone,
                    "status": status,
                    "delivery_partner": partner,
                    "total": total,
                    "payment_method": method,
                    "card_last4": last4,
                    "created_at": created_o,
                    "delivered_at": created_o + timedelta(days=2)
                    if status == "delivered"
                    else None,
                }
            )
        # Both demo subjects called the support queue; the PBX wrote their numbers as below.
        fixed_calls = [
            ("subject", "CALL-DEMO-0001", "NGUYEN VAN AN", 20, 312),
            ("subject", "CALL-DEMO-0002", "", 75, 187),
            ("caller_only", "CALL-DEMO-0003", "TRAN THI BICH", 10, 254),
            ("caller_only", "CALL-DEMO-0004", "", 40, 96),
        ]
        for who, uniqueid, caller, days, talk in fixed_calls:
            self.call_no += 1
            b.calls.append(
                self.call_leg(
                    uniqueid,
                    now - timedelta(days=days, hours=1),
                    DEMO_RECORDS[who]["calls"][uniqueid],
                    inbound=True,
                    disposition="ANSWERED",
                    extension="201",
                    caller=caller,
                    talk=talk,
                    ring=8,
                )
            )
        self.stats.caller_only_people += 1

    def batches(self, customers: int) -> Iterator[tuple[_Batch, int]]:
        """Chunks of generated rows, each with how many people are generated so far."""
        b = _Batch()
        self.demo(b)
        for i in range(1, customers):
            self.customer(b, i)
            if len(b.customers) >= CHUNK:
                yield b, i + 1
                b = _Batch()
        if b.customers or b.calls or b.subscribers:
            yield b, customers


# --------------------------------------------------------------------------- seeding


def _to_naive_utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return now.replace(microsecond=0)


def seed(
    data_dir: Path,
    customers: int,
    *,
    secret_key: str,
    region: str = "VN",
    seed: int = 0,
    reset: bool = False,
    now: datetime | None = None,
    force: bool = False,
    max_customers: int = MAX_CUSTOMERS,
    progress: Report = ignore,
) -> SeedReport:
    """Create and fill the four demo stores under ``data_dir`` with ``customers`` people.

    ``customers`` counts distinct people with a CRM row, the fixed demo subject included
    (so ``customers >= 1``). ``now`` anchors every timestamp (default: today 00:00 UTC).
    Raises InvalidInput when a store already holds customer data and ``reset`` is False, when
    ``reset`` would delete a store seed did not create, and for more than ``max_customers``
    people unless ``force`` (nothing is touched in these cases). ``progress`` hears how many
    people are written so far, then of the index builds.
    """
    if customers < 1:
        raise InvalidInput("customers must be at least 1")
    if customers > max_customers and not force:
        raise InvalidInput(
            f"--customers {min(customers, 10**12)} is over {max_customers:,} (several GB of "
            "stores and audio); add --force to seed that many"
        )
    started = time.perf_counter()
    data_dir = Path(data_dir)
    private_dir(data_dir)
    if reset:
        _delete_stores(data_dir)
    paths = store_paths(data_dir)
    private_dir(paths["monitor"])
    for key in ("crm", "newsletter", "orders", "recordings"):
        create_private(paths[key])  # customer data: 0600 from the start (SQLite keeps it)

    load_started = time.perf_counter()
    engines = {
        key: _engine(paths[key], bulk=True) for key in ("crm", "newsletter", "orders", "recordings")
    }
    try:
        for key in ("crm", "newsletter", "orders", "recordings"):
            ds.create_store(engines[key], key)
        for engine in engines.values():
            with engine.begin() as conn:
                marker.mark_database(conn)
        marker.mark_recordings(paths["recordings"].parent)
        conns = {key: eng.connect() for key, eng in engines.items()}
        try:
            report = _load(
                conns,
                paths,
                customers,
                secret_key=secret_key,
                region=region,
                seed=seed,
                now=_to_naive_utc(now),
                progress=progress,
            )
        finally:
            for conn in conns.values():
                conn.close()
    finally:
        for eng in engines.values():
            eng.dispose()
    report.phases["reset"] = round(load_started - started, 3)
    report.data_dir = str(data_dir)
    report.elapsed_s = round(time.perf_counter() - started, 3)
    return report


_DATA_TABLES = {
    "crm": [ds.customers],
    "newsletter": [ds.subscribers],
    "orders": [ds.orders, ds.order_items],
    "recordings": [ds.cdr],
}


class _BulkInsert:
    """executemany of one table's rows through the connection's DB-API cursor.

    SQLAlchemy's per-value bind processing costs more than generating the row, so rows are
    turned into tuples here, datetimes into SQLAlchemy's own SQLite storage format
    (``YYYY-MM-DD HH:MM:SS.ffffff``, read back as datetimes by the ``DateTime`` type).
    """

    def __init__(self, conn: sa.Connection, table: sa.Table, columns: list[str]) -> None:
        prep = conn.dialect.identifier_preparer
        self.conn = conn
        self.sql = (
            f"INSERT INTO {prep.format_table(table)} "
            f"({', '.join(prep.quote(c) for c in columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )
        self.get = itemgetter(*columns)
        self.dt_cols = [c for c in columns if isinstance(table.c[c].type, sa.DateTime)]

    def __call__(self, rows: list[dict[str, Any]]) -> None:
        for col in self.dt_cols:
            for row in rows:
                value = row[col]
                if value is not None:
                    row[col] = value.isoformat(" ", "microseconds")
        self.conn.exec_driver_sql(self.sql, list(map(self.get, rows)))


def _write_recordings(monitor: Path, names: list[str], data: bytes) -> None:
    """Write each recording under the monitor folder (``YYYY/MM/DD/<file>``, folders 0700)."""
    made: set[Path] = set()
    for name in names:
        path = monitor / name
        if path.parent not in made:
            private_dir(path.parent)
            made.add(path.parent)
        with open_private(path) as fh:  # a customer's call: 0600
            fh.write(data)


def _load(
    conns: dict[str, sa.Connection],
    paths: dict[str, Path],
    customers: int,
    *,
    secret_key: str,
    region: str,
    seed: int,
    now: datetime,
    progress: Report,
) -> SeedReport:
    for key, tables in _DATA_TABLES.items():
        for table in tables:
            if _count(conns[key], table):
                raise InvalidInput(
                    f"demo store {key} already holds data ({table.name}); seed with reset to "
                    "replace it"
                )
    suppressed = {
        row[0] for row in conns["newsletter"].execute(sa.select(ds.suppression.c.email_hash))
    }

    # Secondary indexes are built once after the load: much faster than row by row.
    indexed = [(key, table) for key, tables in _DATA_TABLES.items() for table in tables]
    for key, table in indexed:
        for index in table.indexes:
            index.drop(conns[key], checkfirst=True)
        conns[key].commit()

    gen = _Generator(
        seed=seed, now=now, secret_key=secret_key, region=region, suppressed=suppressed
    )
    monitor = paths["monitor"]
    targets = [
        ("crm", ds.customers, "customers"),
        ("newsletter", ds.suppression, "suppression"),
        ("newsletter", ds.subscribers, "subscribers"),
        ("orders", ds.orders, "orders"),
        ("orders", ds.order_items, "items"),
        ("recordings", ds.cdr, "calls"),
    ]
    inserters: dict[str, _BulkInsert] = {}
    pending: list[Future[None]] = []
    phases = gen.stats.phases
    mark = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="seed-audio") as pool:
        for batch, people in gen.batches(customers):
            files = [row["recordingfile"] for row in batch.calls if row["recordingfile"]]
            if files:  # file writes release the GIL: overlap them with generation
                pending.append(pool.submit(_write_recordings, monitor, files, gen.wav))
            written = ds.stamp()  # when these rows are written: their update stamp
            for rows in (batch.customers, batch.subscribers, batch.orders):
                for row in rows:
                    row["updated_at"] = written
            for key, table, attr in targets:
                rows = getattr(batch, attr)
                if not rows:
                    continue
                insert = inserters.get(attr)
                if insert is None:
                    insert = inserters[attr] = _BulkInsert(conns[key], table, list(rows[0]))
                insert(rows)
            for conn in conns.values():
                conn.commit()
            gen.stats.crm_rows += len(batch.customers)
            gen.stats.orders += len(batch.orders)
            gen.stats.order_items += len(batch.items)
            gen.stats.calls += len(batch.calls)
            gen.stats.audio_files += len(files)
            done = [f for f in pending if f.done()]
            for fut in done:
                fut.result()  # surface a write error early
                pending.remove(fut)
            progress(Progress("customers", people, customers, unit="customers"))
        phases["load"] = round(time.perf_counter() - mark, 3)
        mark = time.perf_counter()
        for fut in pending:
            fut.result()
    phases["audio_wait"] = round(time.perf_counter() - mark, 3)
    progress(Progress("customers", customers, customers, unit="customers", finished=True))

    mark = time.perf_counter()
    indexed_tables = len(indexed)
    progress(Progress("indexes", 0, indexed_tables, unit="tables"))
    for n, (key, table) in enumerate(indexed, start=1):
        for index in table.indexes:
            index.create(conns[key], checkfirst=True)
        conns[key].commit()
        progress(
            Progress("indexes", n, indexed_tables, unit="tables", finished=n == indexed_tables)
        )
    for conn in conns.values():
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.commit()

    phases["indexes"] = round(time.perf_counter() - mark, 3)
    report = gen.stats
    report.audio_bytes = report.audio_files * len(gen.wav)
    return report


# --------------------------------------------------------------------------- list imports


def import_subscribers(
    data_dir: Path,
    rows: Iterable[Mapping[str, Any]],
    *,
    secret_key: str,
    now: datetime | None = None,
) -> ImportReport:
    """Import list entries (``email``, optional ``name``, ``consent_source``, ``subscribed_at``).

    An address whose suppression hash is on the list is refused (never re-added); one already on
    the list (subscribed or unsubscribed) is skipped; a value that is not an address is counted
    as invalid. Creates ``newsletter.db`` when missing.
    """
    when = _to_naive_utc(now or datetime.now(UTC))
    report = ImportReport()
    engine = _engine(store_paths(Path(data_dir))["newsletter"], bulk=False)
    try:
        ds.create_store(engine, "newsletter")
        with engine.begin() as conn:
            fresh: list[dict[str, Any]] = []
            # The list holds addresses as typed: what is on it already, in any spelling.
            seen: set[str] = {
                value
                for (written,) in conn.execute(sa.select(ds.subscribers.c.email))
                for value in stored_values(EMAIL, written)
            }
            for row in rows:
                raw = row.get("email")
                norm = try_normalise_email(str(raw)) if raw is not None else None
                if norm is None:
                    report.invalid += 1
                    continue
                digest = suppression_hash(norm, secret_key)
                hit = conn.execute(
                    sa.select(ds.suppression.c.email_hash).where(
                        ds.suppression.c.email_hash == digest
                    )
                ).first()
                if hit is not None:
                    report.refused_suppressed += 1
                    continue
                if norm in seen:
                    report.skipped_existing += 1
                    continue
                seen.add(norm)
                fresh.append(
                    {
                        "email": str(raw),
                        "name": row.get("name"),
                        "subscribed_at": _to_naive_utc(row.get("subscribed_at") or when),
                        "consent_source": row.get("consent_source") or "import",
                        "unsubscribed_at": None,
                    }
                )
                if len(fresh) >= CHUNK:
                    conn.execute(ds.subscribers.insert(), fresh)
                    report.imported += len(fresh)
                    fresh = []
            if fresh:
                conn.execute(ds.subscribers.insert(), fresh)
                report.imported += len(fresh)
    finally:
        engine.dispose()
    return report
