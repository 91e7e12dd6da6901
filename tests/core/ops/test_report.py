"""The yearly DSR report's figures, fixed for a hand-made ledger (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ledger.models import AuditEvent, ConnectorTask, Notice, Request
from dsr.core.ops import report, report_render

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
YEAR = {"start": date(2026, 1, 1), "end": date(2026, 12, 31), "zone": HCM}
FAR = datetime(2030, 1, 1, tzinfo=UTC)


def at(month: int, day: int, hour: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def add(
    session: Session,
    kind: str,
    status: str,
    received: datetime,
    *,
    took: float | None = None,
    allowed: int = 10,
    verified: bool = True,
    attention: str | None = None,
    jurisdiction: str = "vn",
) -> str:
    row = Request(
        kind=kind,
        status=status,
        jurisdiction=jurisdiction,
        email="someone@example.com",
        verified_email="someone@example.com" if verified else None,
        received_at=received,
        due_at=received + timedelta(days=allowed) if allowed else FAR,
        completed_at=received + timedelta(days=took) if took is not None else None,
        updated_at=received,
        attention=attention,
    )
    session.add(row)
    session.flush()
    return row.id


def task(session: Session, rid: str, connector: str, status: str, attempts: int) -> None:
    session.add(
        ConnectorTask(
            request_id=rid, connector=connector, status=status, attempts=attempts, updated_at=FAR
        )
    )


def notice(session: Session, rid: str, name: str, status: str) -> None:
    session.add(
        Notice(
            request_id=rid,
            recipient=name.lower(),
            name=name,
            status=status,
            created_at=FAR,
            updated_at=FAR,
        )
    )


def fill(session: Session) -> None:
    """Twelve requests inside 2026 (Asia/Ho_Chi_Minh), one just outside, and what they did."""
    a1 = add(session, "access", "completed", at(2, 1), took=2)
    add(session, "access", "completed", at(3, 1), took=4)
    add(session, "access", "completed", at(4, 1), took=12)  # late by 2 days
    a4 = add(session, "access", "in_progress", at(5, 1))  # open and overdue
    add(session, "access", "rejected", at(6, 1), verified=False, attention="identity not proven")
    # 2026-01-01 00:30 in Ho Chi Minh City: inside; 23:30 the evening before: outside.
    add(session, "access", "completed", datetime(2025, 12, 31, 17, 30, tzinfo=UTC), took=6)
    a7 = add(session, "access", "completed", datetime(2025, 12, 31, 16, 30, tzinfo=UTC), took=1)
    e1 = add(session, "erase", "completed", at(7, 1), took=10, allowed=20)
    e2 = add(session, "erase", "completed", at(8, 1), took=25, allowed=20, jurisdiction="gdpr")
    add(session, "erase", "canceled", at(9, 1), verified=False)
    add(session, "erase", "awaiting_verification", at(10, 1), verified=False, allowed=0)
    add(session, "rectify", "completed", at(11, 1), took=1)
    add(session, "complaint", "completed", at(11, 2), took=3, allowed=15, verified=False)
    extended = add(session, "access", "completed", at(3, 2), took=5)
    session.add(AuditEvent(at=FAR, actor="ops", action="deadline_extended", request_id=extended))
    task(session, a1, "crm", "done", 1)
    task(session, a1, "orders", "done", 3)
    task(session, a4, "crm", "failed", 5)
    task(session, a4, "orders", "skipped", 1)
    task(session, a7, "crm", "done", 1)  # outside the period
    notice(session, e1, "GHN", "sent")
    notice(session, e2, "GHN", "failed")
    notice(session, e2, "Viettel Post", "not_needed")
    notice(session, a7, "GHN", "sent")  # outside the period


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated ledger holding the hand-made requests."""
    db = (
        f"sqlite:///{tmp_path / 'ledger.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    migrate(db)
    with session_scope(db) as session:
        fill(session)
    yield db
    get_engine(db).dispose()


def yearly(url: str, **kw: object) -> report.YearlyReport:
    with session_scope(url) as session:
        return report.yearly(session, **{**YEAR, **kw})  # type: ignore[arg-type]


def test_per_kind_and_total_counts_and_reply_times(url: str) -> None:
    """Received, verified, completed, denied, canceled, open (and past due), median and p90
    days to reply, late replies and by how much, extensions and reasons: each as fixed."""
    r = yearly(url)
    kinds = {k.kind: k for k in r.kinds}
    access = kinds["access"]
    assert (access.received, access.verified, access.completed) == (7, 6, 5)
    assert (access.denied, access.canceled, access.open, access.open_overdue) == (1, 0, 1, 1)
    # completed access: 2, 4, 5, 6, 12 days
    assert (access.median_days, access.p90_days) == (5.0, 9.6)
    assert (access.late, access.late_mean_days, access.late_max_days) == (1, 2.0, 2.0)
    assert access.extensions == 1
    assert access.reasons == {"denied: identity not proven": 1}
    erase = kinds["erase"]
    assert (erase.received, erase.verified, erase.completed, erase.canceled, erase.open) == (
        4, 2, 2, 1, 1,
    )  # fmt: skip
    assert (erase.median_days, erase.p90_days) == (17.5, 23.5)
    assert (erase.late, erase.late_mean_days, erase.late_max_days) == (1, 5.0, 5.0)
    assert erase.reasons == {"canceled: no reason recorded": 1}
    assert (kinds["rectify"].received, kinds["rectify"].median_days) == (1, 1.0)
    complaint = kinds["complaint"]
    assert (complaint.received, complaint.verified, complaint.p90_days) == (1, 0, 3.0)
    total = r.total
    assert total.kind == "total" and r.kinds[-1] is total
    assert (total.received, total.verified, total.completed) == (13, 9, 9)
    assert (total.denied, total.canceled, total.open, total.open_overdue) == (1, 1, 2, 1)
    # all completed: 1, 2, 3, 4, 5, 6, 10, 12, 25 days
    assert (total.median_days, total.p90_days) == (5.0, 14.6)
    assert (total.late, total.late_mean_days, total.late_max_days) == (2, 3.5, 5.0)
    assert total.extensions == 1
    assert total.reasons == {"canceled: no reason recorded": 1, "denied: identity not proven": 1}


def test_per_store_and_per_recipient(url: str) -> None:
    """Tasks, done, skipped, failed, retried and retries per store; notices sent and refused per
    recipient; a request received outside the period counts nowhere."""
    r = yearly(url)
    stores = {s.store: s for s in r.stores}
    assert set(stores) == {"crm", "orders"}
    crm, orders = stores["crm"], stores["orders"]
    assert (crm.tasks, crm.done, crm.failed, crm.retried, crm.retries) == (2, 1, 1, 1, 4)
    assert (orders.tasks, orders.done, orders.skipped, orders.retried, orders.retries) == (
        2, 1, 1, 1, 2,
    )  # fmt: skip
    notices = {n.recipient: n for n in r.notices}
    assert (notices["GHN"].sent, notices["GHN"].refused) == (1, 1)
    assert notices["Viettel Post"].not_needed == 1


def test_one_jurisdiction_and_an_empty_period(url: str) -> None:
    """--jurisdiction gdpr counts only its request; a year without requests is all zeros."""
    gdpr = yearly(url, jurisdiction="gdpr")
    assert gdpr.total.received == 1 and gdpr.total.late == 1
    assert [n.recipient for n in gdpr.notices] == ["GHN", "Viettel Post"]
    empty = yearly(url, start=date(2024, 1, 1), end=date(2024, 12, 31))
    assert empty.total.received == 0 and empty.total.median_days is None
    assert empty.stores == [] and empty.notices == []


def test_csv_json_and_printable_html_carry_the_same_figures(url: str) -> None:
    """Every figure is a CSV line; the HTML (A4 print CSS) shows them in vi and en."""
    r = yearly(url)
    rows = list(csv.reader(io.StringIO(report_render.csv_rows(r))))
    assert ["kinds", "total", "received", "13"] in rows
    assert ["kinds", "total", "p90_days", "14.6"] in rows
    assert ["stores", "crm", "retries", "4"] in rows
    assert report_render.plain(r)["kinds"][-1]["median_days"] == 5.0
    en = report_render.html("yearly", r, lang="en", company="Demo Company")
    vi = report_render.html("yearly", r, lang="vi", company="Demo Company")
    assert "@page { size: A4" in en and "Replied late" in en and "14.6" in en
    assert "Trả lời trễ" in vi and "14,6" in vi and "1 January 2026" in en and "01/01/2026" in vi
