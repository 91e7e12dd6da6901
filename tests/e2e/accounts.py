"""The seeded CRM read as people typed it: the identifiers its rows hold, in any spelling."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from dsr.identity import EMAIL, PHONE
from dsr.spellings import stored_values


@dataclass(frozen=True)
class SharedPhone:
    """One phone number two CRM rows hold, each under its own e-mail address."""

    phone: str
    emails: tuple[str, str]
    customer_ids: tuple[str, ...]  # distinct, sorted: one id (a re-keyed row) or two accounts


def shared_phones(data_dir: Path) -> list[SharedPhone]:
    """Phones held by exactly two CRM rows with two different addresses, by number."""
    engine = sa.create_engine(f"sqlite:///{data_dir / 'crm.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("select customer_id, email, phone from customers")).all()
    finally:
        engine.dispose()
    by_phone: dict[str, list[sa.Row[tuple[str, str, str]]]] = defaultdict(list)
    for row in rows:
        for phone in stored_values(PHONE, row.phone):
            by_phone[phone].append(row)
    out = []
    for phone, group in sorted(by_phone.items()):
        emails = sorted({e for r in group for e in stored_values(EMAIL, r.email)})
        if len(group) == 2 and len(emails) == 2:
            ids = tuple(sorted({r.customer_id for r in group}))
            out.append(SharedPhone(phone, (emails[0], emails[1]), ids))
    return out
