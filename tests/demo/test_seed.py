"""The demo-store seeder: shapes, messy identities (S8), fixed demo subjects, suppression."""

from __future__ import annotations

import re
import sqlite3
import unicodedata
import wave
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from demo import stores as ds
from demo.seed import (
    DELIVERY_PARTNERS,
    DEMO_CALLER_ONLY,
    DEMO_CUSTOMER_ID,
    DEMO_RECORDS,
    DEMO_SUBJECT,
    DEMO_WORK_EMAIL,
    PBX_EXTENSIONS,
    PBX_QUEUE,
    SeedReport,
    _national,
    import_subscribers,
    seed,
    store_paths,
)
from dsr.errors import InvalidInput
from dsr.identity import suppression_hash, try_normalise_email, try_normalise_phone

SECRET = "test-secret-key-0123456789"
NOW = datetime(2026, 3, 2, 9, 0, 0)
N = 1200


def rows(data_dir: Path, store: str, table: sa.Table) -> list[dict[str, Any]]:
    engine = sa.create_engine(f"sqlite:///{store_paths(data_dir)[store]}")
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(table))]
    finally:
        engine.dispose()


def email_of(row: dict[str, Any], column: str = "email") -> str:
    """The address a row holds, as typed, normalised the way a request's is ("" if none)."""
    return try_normalise_email(row[column]) or ""


def phone_of(row: dict[str, Any], column: str) -> str:
    """The phone a row holds, as typed, normalised the way a request's is ("" if none)."""
    return try_normalise_phone(row[column], "VN") or ""


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SeedReport]:
    data_dir = tmp_path_factory.mktemp("stores")
    report = seed(data_dir, N, secret_key=SECRET, seed=7, now=NOW)
    return data_dir, report


@pytest.fixture(scope="module")
def data(seeded: tuple[Path, SeedReport]) -> dict[str, list[dict[str, Any]]]:
    data_dir, _ = seeded
    return {
        "customers": rows(data_dir, "crm", ds.customers),
        "subscribers": rows(data_dir, "newsletter", ds.subscribers),
        "suppression": rows(data_dir, "newsletter", ds.suppression),
        "orders": rows(data_dir, "orders", ds.orders),
        "items": rows(data_dir, "orders", ds.order_items),
        "calls": rows(data_dir, "recordings", ds.cdr),
    }


def test_files_live_where_connectors_yaml_points(seeded: tuple[Path, SeedReport]) -> None:
    """The stores are the files config/connectors.yaml names under the data directory."""
    data_dir, _ = seeded
    for name in ("crm.db", "newsletter.db", "orders.db", "recordings/cdr.db"):
        assert (data_dir / name).is_file()
    assert (data_dir / "recordings" / "monitor").is_dir()


def test_report_counts_match_the_stores(seeded: tuple[Path, SeedReport], data: dict) -> None:
    """The report's counts are the row counts actually written, per store."""
    _, report = seeded
    assert report.customers == N
    assert report.crm_rows == len(data["customers"]) == N + report.duplicate_crm_rows
    assert report.subscribers == len(data["subscribers"])
    assert report.suppression_entries == len(data["suppression"])
    assert report.orders == len(data["orders"])
    assert report.order_items == len(data["items"])
    assert report.calls == len(data["calls"])
    assert report.audio_files == len([c for c in data["calls"] if c["recordingfile"]])
    assert report.elapsed_s > 0
    assert report.to_json()["stores"]["orders"]["orders"] == report.orders


def test_crm_rows_have_the_documented_shape(data: dict) -> None:
    """CRM rows carry a KH customer id, a Vietnamese name, gender, courses, status, dates."""
    customers = data["customers"]
    assert all(re.fullmatch(r"KH\d{6,}", c["customer_id"]) for c in customers)
    assert {c["gender"] for c in customers} <= {"Nam", "Nữ", "Khác"}
    assert {c["status"] for c in customers} == {"active", "inactive", "locked"}
    assert all(isinstance(c["last_activity_at"], datetime) for c in customers)
    assert all(c["created_at"] <= c["last_activity_at"] <= NOW for c in customers)
    assert all(c["address"] and c["email"] and c["phone"] for c in customers)
    courses = {x for c in customers if c["courses"] for x in c["courses"].split("; ")}
    assert {"IELTS 7.0", "Lập trình Python", "Kỹ năng mềm"} <= courses
    with_diacritics = [c for c in customers if any(ord(ch) > 127 for ch in c["full_name"])]
    assert len(with_diacritics) > 0.8 * len(customers)


def test_stores_hold_identifiers_only_as_typed(seeded: tuple[Path, SeedReport], data: dict) -> None:
    """No store table carries a normalised copy of an identifier, and every address and phone
    the CRM, list and order tables hold, however typed, is one dsr.identity can read."""
    data_dir, _ = seeded
    for store, table in [
        ("crm", "customers"),
        ("newsletter", "subscribers"),
        ("orders", "orders"),
        ("recordings", "cdr"),
    ]:
        engine = sa.create_engine(f"sqlite:///{store_paths(data_dir)[store]}")
        try:
            columns = {c["name"] for c in sa.inspect(engine).get_columns(table)}
        finally:
            engine.dispose()
        assert not {c for c in columns if c.endswith("_norm")}, table
    for table, phone_col in [
        ("customers", "phone"),
        ("subscribers", None),
        ("orders", "shipping_phone"),
    ]:
        for row in data[table]:
            assert email_of(row), row
            assert phone_col is None or phone_of(row, phone_col), row


def _customer_number(call: dict[str, Any]) -> str | None:
    """The customer's number in a call leg, normalised: the caller's on a call in, the called
    party's on a call out (the other side is the queue or an agent's extension)."""
    return phone_of(call, "src") or phone_of(call, "dst")


def test_calls_are_written_as_a_pbx_writes_them(data: dict) -> None:
    """Each call leg holds the customer's number as digits (maybe with a leading +) in src,
    cnum and clid for a call in, in dst for a call out; the other side is the queue or an
    extension, which is no phone number; only answered calls have a recording, filed under
    the call's day."""
    directions = set()
    for row in data["calls"]:
        inbound = row["dst"] == PBX_QUEUE
        directions.add(inbound)
        customer, ours = ("src", "dst") if inbound else ("dst", "src")
        assert re.fullmatch(r"\+?\d{9,11}", row[customer]), row
        assert row[ours] in (PBX_QUEUE, *PBX_EXTENSIONS) and not phone_of(row, ours), row
        number = row[customer]
        if inbound:
            assert row["cnum"] == number and row["clid"].endswith(f"<{number}>"), row
        assert row["uniqueid"] and row["linkedid"] == row["uniqueid"]
        assert (row["disposition"] == "ANSWERED") == bool(row["recordingfile"]), row
        if row["recordingfile"]:
            assert row["recordingfile"].startswith(f"{row['calldate']:%Y/%m/%d}/"), row
            assert row["uniqueid"] in row["recordingfile"]
        assert _customer_number(row) is not None
    assert directions == {True, False}
    assert len({r["uniqueid"] for r in data["calls"]}) == len(data["calls"])


def test_rows_carry_the_time_they_were_written(tmp_path: Path) -> None:
    """Customers, list entries and orders carry ``updated_at``: when seed (or an import) wrote
    them by the wall clock, not the synthetic ``now``, so an index catches up on a re-seed."""
    before = ds.stamp()
    seed(tmp_path, 20, secret_key=SECRET, seed=3, now=NOW)
    after = ds.stamp()
    for store, table in (
        ("crm", ds.customers),
        ("newsletter", ds.subscribers),
        ("orders", ds.orders),
    ):
        stamps = [r["updated_at"] for r in rows(tmp_path, store, table)]
        assert stamps and all(before <= s <= after for s in stamps), table.name
    imported = ds.stamp()
    import_subscribers(tmp_path, [{"email": "new.lead@example.net"}], secret_key=SECRET, now=NOW)
    (new,) = [
        s
        for s in rows(tmp_path, "newsletter", ds.subscribers)
        if email_of(s) == "new.lead@example.net"
    ]
    assert new["updated_at"] >= imported and new["subscribed_at"] == NOW


def test_some_names_are_stored_in_nfd(data: dict) -> None:
    """About 2 % of CRM names are decomposed (NFD) and equal their NFC form once normalised."""
    nfd = [
        c["full_name"]
        for c in data["customers"]
        if unicodedata.normalize("NFC", c["full_name"]) != c["full_name"]
    ]
    assert 0.01 * N <= len(nfd) <= 0.05 * N
    assert all(unicodedata.normalize("NFD", n) == n for n in nfd)


def test_phones_are_written_in_many_formats(data: dict) -> None:
    """Numbers appear as 0912 345 678, +84912345678, 84-912-345-678 and others; the PBX's as
    digits; the same number in several spellings."""
    patterns = {
        "spaced": r"0\d{3} \d{3} \d{3}",
        "e164": r"\+84\d{9}",
        "dashed84": r"84-\d{3}-\d{3}-\d{3}",
        "dotted": r"0\d{3}\.\d{3}\.\d{3}",
        "paren": r"\(\+84\) \d{3} \d{3} \d{3}",
        "plain": r"0\d{9}",
        "spaced84": r"\+84 \d{3} \d{3} \d{3}",
    }
    written = [c["phone"] for c in data["customers"]]
    seen = {name for name, pat in patterns.items() for w in written if re.fullmatch(pat, w)}
    assert seen == set(patterns)
    # The PBX writes digits only: 0912345678, +84912345678 or 84912345678.
    pbx = {"plain": r"0\d{9}", "e164": r"\+84\d{9}", "bare84": r"84\d{9}"}
    numbers = [c["src"] if c["dst"] == PBX_QUEUE else c["dst"] for c in data["calls"]]
    forms: dict[str, set[str]] = defaultdict(set)
    for c in data["customers"]:
        forms[phone_of(c, "phone")].add(c["phone"])
    for number in numbers:
        forms[try_normalise_phone(number, "VN") or ""].add(number)
    assert sum(1 for f in forms.values() if len(f) > 1) > 10
    assert {name for name, pat in pbx.items() for n in numbers if re.fullmatch(pat, n)} == set(pbx)
    assert all(any(re.fullmatch(pat, n) for pat in pbx.values()) for n in numbers)


def test_emails_are_messy_but_normalise_to_one(data: dict) -> None:
    """Some addresses carry capitals or stray spaces; normalised, they all are lower-case."""
    emails = [c["email"] for c in data["customers"]] + [s["email"] for s in data["subscribers"]]
    assert any(e != e.strip() for e in emails)
    assert any(e.strip() != e.strip().lower() for e in emails)
    assert all(
        e.strip().lower().rsplit("@", 1)[1].endswith(("example.com", "example.net", "example.org"))
        for e in emails
    )


def test_some_people_have_two_crm_rows(seeded: tuple[Path, SeedReport], data: dict) -> None:
    """~1 % of people have a second CRM row; some keep the customer id, some got their own."""
    _, report = seeded
    assert report.duplicate_crm_rows >= 0.008 * N
    by_phone: dict[str, list[dict]] = defaultdict(list)
    by_email: dict[str, list[dict]] = defaultdict(list)
    for c in data["customers"]:
        by_phone[phone_of(c, "phone")].append(c)
        by_email[email_of(c)].append(c)
    groups = [g for g in list(by_phone.values()) + list(by_email.values()) if len(g) > 1]
    assert len(groups) == report.duplicate_crm_rows
    own_id = [g for g in groups if g[0]["customer_id"] != g[1]["customer_id"]]
    same_id = [g for g in groups if g[0]["customer_id"] == g[1]["customer_id"]]
    assert own_id and same_id
    for g in groups:
        assert unicodedata.normalize("NFC", g[0]["full_name"]) == unicodedata.normalize(
            "NFC", g[1]["full_name"]
        )


def test_some_callers_exist_only_in_the_call_archive(data: dict) -> None:
    """Some recorded callers have no CRM row and no order: only their phone finds them."""
    known = {phone_of(c, "phone") for c in data["customers"]}
    known |= {phone_of(o, "shipping_phone") for o in data["orders"]}
    strangers = {_customer_number(c) for c in data["calls"]} - known
    assert len(strangers) >= 0.01 * N
    assert try_normalise_phone(DEMO_CALLER_ONLY["phone"]) in strangers


def test_every_recording_is_a_valid_wav_file(seeded: tuple[Path, SeedReport], data: dict) -> None:
    """Each recording a call names exists under the monitor folder, and is real 8 kHz mono
    16-bit WAV audio; no file is there that no call names."""
    monitor = store_paths(seeded[0])["monitor"]
    on_disk = {str(p.relative_to(monitor)) for p in monitor.rglob("*") if p.is_file()}
    named = [c for c in data["calls"] if c["recordingfile"]]
    assert on_disk == {c["recordingfile"] for c in named}
    for call in named[:50] + named[-50:]:
        with wave.open(str(monitor / call["recordingfile"]), "rb") as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
            assert w.getnframes() > 0
            assert len(w.readframes(w.getnframes())) == 2 * w.getnframes()


def test_calls_span_two_years_across_the_180_day_limit(data: dict) -> None:
    """Call dates spread over ~2 years: some are past the 180-day retention period, some not."""
    ages = [(NOW - c["calldate"]).days for c in data["calls"]]
    assert min(ages) < 180 < max(ages) <= 731
    assert sum(a > 180 for a in ages) > 0.5 * len(ages)
    assert all(c["duration"] >= c["billsec"] >= 0 for c in data["calls"])
    assert all(c["billsec"] > 0 for c in data["calls"] if c["disposition"] == "ANSWERED")


def test_orders_have_the_documented_shape(data: dict) -> None:
    """Orders carry recipient, shipping data, a delivery partner, VND totals and 1-3 items each."""
    orders, items = data["orders"], data["items"]
    assert {o["status"] for o in orders} == {"pending", "shipped", "delivered"}
    assert {o["delivery_partner"] for o in orders} == set(DELIVERY_PARTNERS)
    per_order: dict[int, list[dict]] = defaultdict(list)
    for item in items:
        per_order[item["order_id"]].append(item)
    assert set(per_order) == {o["id"] for o in orders}
    assert {len(v) for v in per_order.values()} == {1, 2, 3}
    for o in orders:
        subtotal = sum(i["quantity"] * i["unit_price"] for i in per_order[o["id"]])
        assert o["total"] in (subtotal, subtotal + 30_000)
        assert o["recipient_name"] and o["shipping_address"] and o["shipping_phone"]
        assert (o["delivered_at"] is not None) == (o["status"] == "delivered")
    per_customer: dict[str, int] = defaultdict(int)
    for o in orders:
        per_customer[o["customer_id"]] += 1
    assert max(per_customer.values()) <= 5


def test_orders_straddle_the_ten_year_accounting_period(data: dict) -> None:
    """Order dates spread over ~12 years: some are beyond the 10-year retention, most within."""
    years = [(NOW - o["created_at"]).days / 365.25 for o in data["orders"]]
    assert max(years) > 10.0 and min(years) < 0.1
    assert sum(y > 10 for y in years) < 0.2 * len(years)


def test_no_full_card_numbers_are_stored(data: dict) -> None:
    """Only card payments have card_last4, always four digits; no long digit runs anywhere."""
    for o in data["orders"]:
        if o["payment_method"] == "card":
            assert re.fullmatch(r"\d{4}", o["card_last4"])
        else:
            assert o["card_last4"] is None
        assert not any(re.search(r"\d{13,19}", str(v)) for v in o.values())


def test_some_orders_use_another_email_under_the_same_customer_id(data: dict) -> None:
    """Beyond the demo subject, orders placed under a second address keep the CRM customer id."""
    crm_emails: dict[str, set[str]] = defaultdict(set)
    for c in data["customers"]:
        crm_emails[c["customer_id"]].add(email_of(c))
    other = {
        o["customer_id"] for o in data["orders"] if email_of(o) not in crm_emails[o["customer_id"]]
    }
    assert other - {DEMO_CUSTOMER_ID}
    assert other <= set(crm_emails)


def test_newsletter_covers_most_customers_with_unsubscriptions(data: dict) -> None:
    """About 60 % of customers are subscribed, ~15 % of entries unsubscribed, some long ago."""
    subs = data["subscribers"]
    crm = {email_of(c) for c in data["customers"]}
    on_list = [s for s in subs if email_of(s) in crm]
    assert 0.5 * N < len(on_list) < 0.7 * N
    unsub = [s for s in subs if s["unsubscribed_at"] is not None]
    assert 0.08 * len(subs) < len(unsub) < 0.25 * len(subs)
    assert any(NOW - s["unsubscribed_at"] > timedelta(days=30) for s in unsub)
    assert all(s["subscribed_at"] <= s["unsubscribed_at"] for s in unsub)
    assert {s["consent_source"] for s in subs} >= {"website_form", "checkout"}


def test_seeded_suppression_entries_block_their_reimport(
    seeded: tuple[Path, SeedReport], data: dict
) -> None:
    """The seed's erased former subscribers are on the suppression list and were refused."""
    _, report = seeded
    assert report.suppression_entries > 0
    assert report.refused_suppressed == report.suppression_entries
    hashes = {s["email_hash"] for s in data["suppression"]}
    assert not hashes & {suppression_hash(s["email"], SECRET) for s in data["subscribers"]}


def test_demo_subject_has_the_documented_records(data: dict) -> None:
    """Nguyễn Văn An: a CRM row, a subscription, two orders (one under a work email), two calls."""
    email = try_normalise_email(DEMO_SUBJECT["email"])
    phone = try_normalise_phone(DEMO_SUBJECT["phone"])
    crm = [c for c in data["customers"] if email_of(c) == email or phone_of(c, "phone") == phone]
    assert len(crm) == 1
    assert crm[0]["full_name"] == DEMO_SUBJECT["name"]
    assert crm[0]["customer_id"] == DEMO_CUSTOMER_ID and crm[0]["phone"] == DEMO_SUBJECT["phone"]
    subs = [s for s in data["subscribers"] if email_of(s) == email]
    assert len(subs) == 1 and subs[0]["unsubscribed_at"] is None
    assert subs[0]["email"] == DEMO_RECORDS["subject"]["subscriber_email"]
    orders = {o["order_no"]: o for o in data["orders"] if o["customer_id"] == DEMO_CUSTOMER_ID}
    assert {k: o["status"] for k, o in orders.items()} == DEMO_RECORDS["subject"]["orders"]
    assert {k: o["email"] for k, o in orders.items()} == DEMO_RECORDS["subject"]["order_emails"]
    assert email_of(orders["DH00000002"]) == DEMO_WORK_EMAIL
    assert [o for o in data["orders"] if email_of(o) == email] == [orders["DH00000001"]]
    calls = {c["uniqueid"]: c["src"] for c in data["calls"] if _customer_number(c) == phone}
    assert calls == DEMO_RECORDS["subject"]["calls"]
    assert {"+84912345678", "84912345678"} == set(calls.values())
    own = [c for c in data["calls"] if _customer_number(c) == phone]
    assert all((NOW - c["calldate"]).days < 180 and c["recordingfile"] for c in own)


def test_caller_only_subject_is_only_in_the_archive(data: dict) -> None:
    """The caller-only demo subject has two calls and nothing in any other store."""
    phone = try_normalise_phone(DEMO_CALLER_ONLY["phone"])
    email = try_normalise_email(DEMO_CALLER_ONLY["email"])
    calls = {c["uniqueid"]: c["src"] for c in data["calls"] if _customer_number(c) == phone}
    assert calls == DEMO_RECORDS["caller_only"]["calls"]
    for table, phone_col in (("customers", "phone"), ("orders", "shipping_phone")):
        assert not [
            r for r in data[table] if phone_of(r, phone_col) == phone or email_of(r) == email
        ]
    assert not [s for s in data["subscribers"] if email_of(s) == email]


def test_synthetic_phones_are_unique_and_never_the_demo_numbers() -> None:
    """The phone generator is a bijection: no two serials share a number, none is a demo number."""
    numbers = [_national(i) for i in range(1, 200_001)]
    assert len(set(numbers)) == len(numbers)
    assert not {"912345678", "987654321"} & set(numbers)


def test_seeding_refuses_a_suppressed_address(tmp_path: Path) -> None:
    """An address already on the suppression list is not put back on the newsletter list."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'newsletter.db'}")
    ds.create_store(engine, "newsletter")
    with engine.begin() as conn:
        conn.execute(
            ds.suppression.insert(),
            [
                {
                    "email_hash": suppression_hash(" Nguyen.Van.An@EXAMPLE.com", SECRET),
                    "added_at": NOW - timedelta(days=90),
                    "reason": "erasure",
                }
            ],
        )
    engine.dispose()
    report = seed(tmp_path, 50, secret_key=SECRET, seed=1, now=NOW)
    subs = rows(tmp_path, "newsletter", ds.subscribers)
    assert DEMO_SUBJECT["email"] not in {email_of(s) for s in subs}
    assert report.refused_suppressed >= 1
    assert len(rows(tmp_path, "newsletter", ds.suppression)) == report.suppression_entries + 1


def test_import_refuses_suppressed_addresses(tmp_path: Path) -> None:
    """import_subscribers refuses suppressed addresses in any spelling, skips known or bad ones."""
    seed(tmp_path, 20, secret_key=SECRET, seed=3, now=NOW)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'newsletter.db'}")
    with engine.begin() as conn:
        conn.execute(
            ds.suppression.insert(),
            [
                {
                    "email_hash": suppression_hash("gone.person@example.org", SECRET),
                    "added_at": NOW,
                    "reason": "erasure",
                }
            ],
        )
    engine.dispose()
    report = import_subscribers(
        tmp_path,
        [
            {"email": "Gone.Person@Example.org  ", "name": "Người Đã Xóa"},
            {"email": "new.lead@example.net", "name": "Lê Thị Mới", "consent_source": "webinar"},
            {"email": DEMO_SUBJECT["email"].upper()},
            {"email": "not-an-address"},
            {"email": "new.lead@example.net"},
        ],
        secret_key=SECRET,
        now=NOW,
    )
    assert (
        report.imported,
        report.refused_suppressed,
        report.skipped_existing,
        report.invalid,
    ) == (1, 1, 2, 1)
    assert report.refused == 1
    subs = {email_of(s): s for s in rows(tmp_path, "newsletter", ds.subscribers)}
    assert "gone.person@example.org" not in subs
    assert subs["new.lead@example.net"]["consent_source"] == "webinar"
    assert subs["new.lead@example.net"]["subscribed_at"] == NOW


def dump(data_dir: Path) -> dict[str, list[tuple]]:
    """Every row of every store (without its update stamp: when seed wrote it), and every
    recording."""
    out = {}
    for rel, tables in [
        ("crm.db", [ds.customers]),
        ("newsletter.db", [ds.subscribers, ds.suppression]),
        ("orders.db", [ds.orders, ds.order_items]),
        ("recordings/cdr.db", [ds.cdr]),
    ]:
        with sqlite3.connect(data_dir / rel) as conn:
            for t in tables:
                columns = ", ".join(c.name for c in t.columns if c.name != "updated_at")
                out[t.name] = conn.execute(f"SELECT {columns} FROM {t.name} ORDER BY 1").fetchall()
        conn.close()
    monitor = data_dir / "recordings" / "monitor"
    out["files"] = sorted(
        (str(p.relative_to(monitor)), p.read_bytes()) for p in monitor.rglob("*") if p.is_file()
    )
    return out


def test_same_seed_gives_the_same_data(tmp_path: Path) -> None:
    """Two runs with the same seed and clock write identical stores (but for the update
    stamps, the time of writing); another seed differs."""
    for name, s in (("a", 11), ("b", 11), ("c", 12)):
        seed(tmp_path / name, 300, secret_key=SECRET, seed=s, now=NOW)
    a, b, c = (dump(tmp_path / n) for n in "abc")
    assert a == b
    assert a["customers"] != c["customers"]


def test_existing_stores_are_refused_unless_reset(tmp_path: Path) -> None:
    """Seeding over stores that hold data fails clearly; reset replaces them, files included."""
    first = seed(tmp_path, 100, secret_key=SECRET, seed=1, now=NOW)
    with pytest.raises(InvalidInput, match="reset"):
        seed(tmp_path, 100, secret_key=SECRET, seed=1, now=NOW)
    second = seed(tmp_path, 60, secret_key=SECRET, seed=2, now=NOW, reset=True)
    assert len(rows(tmp_path, "crm", ds.customers)) == second.crm_rows < first.crm_rows
    monitor = store_paths(tmp_path)["monitor"]
    assert len([p for p in monitor.rglob("*") if p.is_file()]) == second.audio_files


def test_at_least_one_customer_is_required(tmp_path: Path) -> None:
    """A seed of zero customers is bad input."""
    with pytest.raises(InvalidInput):
        seed(tmp_path, 0, secret_key=SECRET)
