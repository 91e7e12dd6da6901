"""Who is in the product fixtures, and how people type their identifiers.

Three *known subjects* appear in every product that can hold them, each identifier written in
several spellings across their rows, the way people (and imports, and phone trunks) write them:

- Lê Văn Cường, ``le.van.cuong@example.vn``, +84 903 111 222 (Huế);
- Nguyễn Thị Thu Hà, ``thu.ha.nguyen@gmail.com``, a Singapore mobile +65 9123 4567;
- Trần Minh Khoa, ``khoa.tran@outlook.com``, a US number +1 415 555 2671.

*Decoys* sit next to them: a namesake of Cường with another address and a number one digit off,
an address at another domain, a landline whose digits contain Cường's number, his wife who
shares his home line, a Singapore number one digit off. Around them, N synthetic customers
(Faker ``vi_VN`` name and address pools, a seeded ``random.Random``: the same seed gives the
same people) whose identifiers are spelled just as messily.

A product module records, while it writes its rows, which rows are each known subject's and
which rows a search by one identifier alone must return (``Recorder``); ``Seeded`` hands that
to the tests.
"""

from __future__ import annotations

import random
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from faker import Faker

from dsr.identity import Identity

SEED = 21  # issue 21
NOW = datetime(2026, 11, 20, 9, 0, 0)  # "today" in every fixture (naive, UTC)
NBSP = "\u00a0"  # a no-break space, as text copied from a web page carries it

EMAIL = "email"
PHONE = "phone"
CUSTOMER_ID = "customer_id"


@dataclass(frozen=True)
class Person:
    """One person, with their identifiers in one canonical spelling."""

    handle: str  # "cuong", "ha", "khoa" for the known subjects; "p17" for synthetic person 17
    family: str  # họ: "Lê"
    middle: str  # tên đệm: "Văn" (may be empty or two words)
    given: str  # tên: "Cường"
    email: str  # lower case, nothing around it
    phone: str  # E.164
    street: str
    city: str
    country: str = "VN"  # ISO 3166-1 alpha-2, as WooCommerce and Odoo store it

    @property
    def name(self) -> str:
        """The full name in Vietnamese order (family, middle, given), NFC."""
        return " ".join(p for p in (self.family, self.middle, self.given) if p)

    @property
    def surname(self) -> str:
        """Family and middle name: what a Western form's "last name" field gets."""
        return " ".join(p for p in (self.family, self.middle) if p)

    def value(self, kind: str) -> str:
        """The canonical value of one identifier kind."""
        values = {EMAIL: self.email, PHONE: self.phone, "name": self.name}
        return values[kind]

    def identity(self, kind: str) -> Identity:
        """An identity holding only this person's ``kind``, as a request would carry it."""
        return Identity({kind: {self.value(kind)}})


# -- the known subjects and their decoys --------------------------------------------------------

CUONG = Person(
    "cuong", "Lê", "Văn", "Cường", "le.van.cuong@example.vn", "+84903111222", "12 Lê Lợi", "Huế"
)
HA = Person(
    "ha",
    "Nguyễn",
    "Thị Thu",
    "Hà",
    "thu.ha.nguyen@gmail.com",
    "+6591234567",
    "18 Orchard Road #05-02",
    "Singapore",
    "SG",
)
KHOA = Person(
    "khoa",
    "Trần",
    "Minh",
    "Khoa",
    "khoa.tran@outlook.com",
    "+14155552671",
    "2100 Mission St Apt 4",
    "San Francisco",
    "US",
)
KNOWN = (CUONG, HA, KHOA)

# Same name as Cường, another address, a number one digit off his.
NAMESAKE = Person(
    "namesake",
    "Lê",
    "Văn",
    "Cường",
    "levancuong88@gmail.com",
    "+84903111223",
    "45 Trần Phú",
    "Đà Nẵng",
)
# His local part at another domain; a Cà Mau landline (0290) whose digits contain his number.
OTHER_DOMAIN = Person(
    "cuong_com",
    "Lê",
    "Văn",
    "Cương",
    "le.van.cuong@example.com",
    "+842903111222",
    "7 Phan Ngọc Hiển",
    "Cà Mau",
)
# Cường's wife: her own address and mobile, and his home line (she gives it for deliveries).
LAN = Person(
    "lan", "Phạm", "Thị", "Lan", "lan.pham@yahoo.com.vn", "+84918765432", "12 Lê Lợi", "Huế"
)
# Hà's address at another domain; a Singapore number one digit off hers.
HA_DECOY = Person(
    "ha_decoy",
    "Nguyễn",
    "Thu",
    "Hà",
    "thu.ha.nguyen@gmail.com.vn",
    "+6591234568",
    "3 Tampines Ave 1",
    "Singapore",
    "SG",
)
DECOYS = (NAMESAKE, OTHER_DOMAIN, LAN, HA_DECOY)


# -- spellings ----------------------------------------------------------------------------------


def ascii_fold(text: str) -> str:
    """``text`` without diacritics ("Lê Văn Cường" -> "Le Van Cuong"), as ASCII-only systems
    (SIP caller names, usernames) hold Vietnamese names."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def nfd(text: str) -> str:
    """``text`` decomposed (NFD): what macOS and some keyboards store."""
    return unicodedata.normalize("NFD", text)


def name_spellings(name: str) -> tuple[str, ...]:
    """A name as forms store it: NFC, NFD, in capitals, without diacritics."""
    return (name, nfd(name), name.upper(), ascii_fold(name), ascii_fold(name).upper())


def email_spellings(email: str) -> tuple[str, ...]:
    """An address as people type and paste it (each normalises back to ``email``)."""
    local, domain = email.split("@")
    labels = domain.split(".")
    title_local = ".".join(p.capitalize() for p in local.split("."))
    title_domain = ".".join(
        [labels[0].capitalize(), *(x.upper() if len(x) == 2 else x for x in labels[1:])]
    )
    title = f"{title_local}@{title_domain}"
    return (
        email,  # 0: typed carefully
        title,  # 1: a phone keyboard's capitals: Le.Van.Cuong@Example.VN
        email.upper(),  # 2: caps lock
        f" {email} ",  # 3: pasted with the spaces around it
        f"{title} ",  # 4: a trailing space
        f" {email}",  # 5: a leading space
        f"{local}@{domain.upper()}",  # 6: the domain in capitals
        f"{email}{NBSP}",  # 7: copied from a web page, with a no-break space
    )


def phone_spellings(e164: str) -> tuple[str, ...]:
    """A number as people type it, in every common notation (each normalises back to it,
    with VN as the default region)."""
    if e164.startswith("+84"):
        n = e164[3:]  # the national significant number
        a, b, c = n[:3], n[3:6], n[6:]
        return (
            f"(+84) {a} {b} {c}",  # 0
            f"0{a}-{b}-{c}",  # 1
            f"0{a}.{b}.{c}",  # 2
            e164,  # 3
            f"84 {a} {b} {c}",  # 4
            f"0{n[:2]} {n[2:6]} {n[6:]}",  # 5: 090 3111 222
            f"0{a} {b} {c}",  # 6
            f"+84 {a} {b} {c}",  # 7
            f"0{n}",  # 8
        )
    if e164.startswith("+65"):
        n = e164[3:]
        return (
            f"+65 {n[:4]} {n[4:]}",
            f"(+65) {n[:4]}-{n[4:]}",
            f"0065 {n[:4]} {n[4:]}",
            f"+65-{n[:4]}-{n[4:]}",
            e164,
        )
    if e164.startswith("+1"):
        n = e164[2:]
        a, b, c = n[:3], n[3:6], n[6:]
        return (f"+1 ({a}) {b}-{c}", f"+1 {a}-{b}-{c}", f"001 {a} {b} {c}", f"+1.{a}.{b}.{c}", e164)
    raise ValueError(f"no spellings for {e164[:3]}…")


def dialled_spellings(e164: str) -> tuple[str, ...]:
    """A number as a phone system writes it in a call record: what the trunk delivered or the
    agent dialled (no spaces; with or without the country code, the trunk 0 or 00)."""
    if e164.startswith("+84"):
        n = e164[3:]
        return (f"0{n}", e164, f"84{n}", f"0084{n}")
    if e164.startswith("+65"):
        return (e164, f"0065{e164[3:]}")
    if e164.startswith("+1"):
        return (e164, f"001{e164[2:]}")
    raise ValueError(f"no spellings for {e164[:3]}…")


# -- synthetic customers ------------------------------------------------------------------------

DOMAINS = (
    "gmail.com",
    "gmail.com",
    "gmail.com",
    "yahoo.com",
    "yahoo.com.vn",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "fpt.vn",
    "vnn.vn",
)
# Mobile prefixes after +84 where any seven digits make a valid number (not 90/91: the known
# subjects and decoys live there, so no synthetic number can be theirs).
MOBILE_PREFIXES = [
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "38",
    "39",
    "56",
    "58",
    "59",
    "70",
    "76",
    "77",
    "78",
    "79",
    "81",
    "82",
    "83",
    "84",
    "85",
    "86",
    "88",
    "93",
    "94",
    "96",
    "97",
    "98",
]


class Population:
    """Synthetic customers, deterministic for a seed: ``people(n)`` yields persons 0..n-1, the
    same ones every time (a second call continues the stream: persons n..)."""

    def __init__(self, seed: int = SEED, *, abroad: float = 0.03) -> None:
        fake = Faker("vi_VN")
        fake.seed_instance(seed)
        names = fake.provider("faker.providers.person")
        self.families: tuple[str, ...] = tuple(getattr(names, "last_names", ()))
        self.middles: tuple[str, ...] = tuple(getattr(names, "middle_names", ()))
        self.givens: tuple[str, ...] = (
            *getattr(names, "first_names_male", ()),
            *getattr(names, "first_names_female", ()),
            *getattr(names, "first_names_unisex", ()),
        )
        self.streets = tuple(fake.street_address() for _ in range(500))
        self.cities = tuple(fake.city() for _ in range(80))
        self.rng = random.Random(seed)
        self.abroad = abroad
        self._next = 0

    def person(self) -> Person:
        """The next synthetic person."""
        i, rng = self._next, self.rng
        self._next += 1
        family, given = rng.choice(self.families), rng.choice(self.givens)
        middle = rng.choice(self.middles)
        local = f"{ascii_fold(given)}.{ascii_fold(family)}{i}".lower()
        email = f"{local}@{rng.choice(DOMAINS)}"
        seven = (i * 7_654_321 + 1_234_567) % 10_000_000  # a bijection: unique below 10**7
        if rng.random() < self.abroad:  # a Singapore mobile (8xxx xxxx; the decoys are 9xxx)
            phone, country, city = f"+658{seven:07d}", "SG", "Singapore"
        else:
            phone = f"+84{rng.choice(MOBILE_PREFIXES)}{seven:07d}"
            country, city = "VN", rng.choice(self.cities)
        street = rng.choice(self.streets)
        return Person(f"p{i}", family, middle, given, email, phone, street, city, country)

    def people(self, count: int) -> Iterator[Person]:
        for _ in range(count):
            yield self.person()

    # How synthetic rows spell things: mostly plainly, the rest any common way.

    def email(self, email: str, *, plain: float = 0.6) -> str:
        spellings = email_spellings(email)
        return spellings[0] if self.rng.random() < plain else self.rng.choice(spellings[1:])

    def login_email(self, email: str) -> str:
        """An address as a sign-up form stores it: case kept, spaces removed."""
        return self.rng.choice((email, email, email_spellings(email)[1], email_spellings(email)[6]))

    def phone(self, e164: str) -> str:
        return self.rng.choice(phone_spellings(e164))

    def dialled(self, e164: str) -> str:
        return self.rng.choice(dialled_spellings(e164))

    def name(self, name: str) -> str:
        return self.rng.choice((name, name, name, nfd(name), name.upper(), ascii_fold(name)))

    def moment(self, start: datetime, end: datetime = NOW) -> datetime:
        """A time between ``start`` and ``end``, to the second."""
        span = int((end - start).total_seconds())
        return start + timedelta(seconds=self.rng.randrange(span))


# -- what a fill tells the tests ----------------------------------------------------------------

Keys = dict[str, list[str]]  # table -> row keys as text, one per row (a child table keyed by
# its parent's key repeats it)


@dataclass
class Subject:
    """One known subject as a product holds them."""

    person: Person
    # identifiers this store gave them, by kind (WooCommerce's customer id: their wp_users.ID)
    assigned: dict[str, str] = field(default_factory=dict)
    rows: Keys = field(default_factory=dict)  # every row that is theirs
    # kind -> the rows a search by that one identifier must return: theirs that hold it (with
    # their child rows), and other people's rows that hold it too (a shared home line)
    hits: dict[str, Keys] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)  # recordings of their calls on disk

    def value(self, kind: str) -> str:
        """Their identifier of ``kind`` in its canonical spelling."""
        return self.assigned.get(kind) or self.person.value(kind)

    def identity(self, kind: str) -> Identity:
        """An identity holding only this identifier, as a request would carry it."""
        return Identity({kind: {self.value(kind)}})


@dataclass
class Seeded:
    """What ``fill`` wrote: row counts per table, the known subjects, and the files."""

    product: str
    subjects: dict[str, Subject]
    counts: Counter[str]
    seconds: float = 0.0
    files: dict[str, Path] = field(default_factory=dict)  # row key -> recording written
    missing_files: dict[str, str] = field(default_factory=dict)  # row key -> file it names
    # that was never written (a call FreePBX logged with a recording name but no audio)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    def rate(self) -> float:
        """Rows inserted per second."""
        return self.rows / self.seconds if self.seconds else 0.0


class Recorder:
    """Notes, while a product's rows are built, which are the known subjects'."""

    def __init__(self, product: str) -> None:
        self.product = product
        self.subjects: dict[str, Subject] = {}
        self.started = time.perf_counter()

    def subject(self, person: Person) -> Subject:
        if person.handle not in self.subjects:
            self.subjects[person.handle] = Subject(person)
        return self.subjects[person.handle]

    def own(self, person: Person, table: str, key: object, via: Sequence[str] = ()) -> None:
        """A row of ``person``'s, returned by a search by each identifier kind in ``via``."""
        subject = self.subject(person)
        subject.rows.setdefault(table, []).append(str(key))
        self.hit(person, table, key, via)

    def hit(self, person: Person, table: str, key: object, via: Sequence[str]) -> None:
        """A row a search by ``person``'s identifiers of the kinds in ``via`` returns (theirs,
        or another person's that holds the same identifier)."""
        subject = self.subject(person)
        for kind in via:
            subject.hits.setdefault(kind, {}).setdefault(table, []).append(str(key))

    def seeded(self, counts: Counter[str], **extra: Any) -> Seeded:
        seconds = time.perf_counter() - self.started
        return Seeded(self.product, self.subjects, counts, seconds, **extra)
