"""Who the soak's requests are about: seeded customers none of whose data a retention sweep
will touch, so what the sweeps remove and what the requests erase can be counted apart."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dsr.identity import EMAIL, PHONE
from dsr.spellings import stored_values

# The soak's retention rules (delete only), as (store file, table, key, age column, days).
RULES = (
    ("recordings/cdr.db", "cdr", "uniqueid", "calldate", 180),
    ("newsletter.db", "subscribers", "id", "unsubscribed_at", 30),
    ("crm.db", "customers", "id", "last_activity_at", 1096),
)


@dataclass(frozen=True)
class Subject:
    email: str
    phone: str | None


def cutoff(days: int, now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    return (moment - timedelta(days=days)).isoformat(sep=" ")


def all_keys(data_dir: Path) -> dict[str, dict[object, str | None]]:
    """Every row of the swept tables: key -> its age column (as stored)."""
    out: dict[str, dict[object, str | None]] = {}
    for path, table, key, column, _ in RULES:
        with sqlite3.connect(data_dir / path) as conn:
            rows = conn.execute(f"SELECT {key}, {column} FROM {table}")  # names from RULES, ours
            out[table] = {r[0]: r[1] for r in rows}
    return out


def aged_at(snapshot: dict[str, dict[object, str | None]], now: datetime) -> dict[str, set[object]]:
    """Keys of ``snapshot`` each rule has aged out as of ``now``."""
    days = {table: d for _, table, _, _, d in RULES}
    return {
        t: {k for k, v in rows.items() if v is not None and v < cutoff(days[t], now)}
        for t, rows in snapshot.items()
    }


def _first(values: tuple[str, ...]) -> str | None:
    return values[0] if values else None


def pick(data_dir: Path) -> list[Subject]:
    """Active customers with no aged row anywhere (by e-mail, phone or customer id)."""
    aged_phones: set[str] = set()
    aged_emails: set[str] = set()
    # The PBX writes the customer's number in src, dst, cnum or clid: read as the connector does.
    with sqlite3.connect(data_dir / "recordings/cdr.db") as conn:
        aged_phones |= {
            p
            for row in conn.execute(
                "SELECT src, dst, cnum, clid FROM cdr WHERE calldate < ?", (cutoff(180),)
            )
            for raw in row
            for p in stored_values(PHONE, raw)
        }
    # The list and the CRM keep identifiers as typed: read them as the connectors do.
    with sqlite3.connect(data_dir / "newsletter.db") as conn:
        aged_emails |= {
            e
            for (raw,) in conn.execute(
                "SELECT email FROM subscribers WHERE unsubscribed_at < ?", (cutoff(30),)
            )
            for e in stored_values(EMAIL, raw)
        }
    with sqlite3.connect(data_dir / "crm.db") as conn:
        rows = conn.execute(
            "SELECT customer_id, email, phone, last_activity_at FROM customers"
        ).fetchall()
    by_customer: dict[str, list[tuple[str | None, str | None, str | None]]] = {}
    for customer, email, phone, last in rows:
        by_customer.setdefault(customer, []).append(
            (_first(stored_values(EMAIL, email)), _first(stored_values(PHONE, phone)), last)
        )
    out: list[Subject] = []
    limit = cutoff(1096)
    for entries in by_customer.values():
        emails = {e for e, _, _ in entries if e}
        phones = {p for _, p, _ in entries if p}
        if any(last is None or last < limit for _, _, last in entries):
            continue
        if emails & aged_emails or phones & aged_phones or not emails:
            continue
        email = sorted(emails)[0]
        out.append(Subject(email, sorted(phones)[0] if phones else None))
    return out
