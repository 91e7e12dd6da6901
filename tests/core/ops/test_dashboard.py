"""The ops dashboard's figures, from a ledger with 90 days of history (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ledger.models import Request, RequestStatus, utcnow
from dsr.core.ops import dashboard
from tests.dashboard_data import STORES, fill

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty ledger."""
    db = (
        f"sqlite:///{tmp_path / 'ledger.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    migrate(db)
    yield db
    get_engine(db).dispose()


def test_counts_deadlines_and_queues(url: str) -> None:
    """Every status is counted; due-soon, overdue and the queues waiting for a person are exact,
    the most urgent first, with the stores that failed."""
    now = utcnow()
    with session_scope(url) as session:
        exp = fill(session, now)
    with Session(get_engine(url)) as session:
        d = dashboard.build(session, zone=HCM, now=now)
    assert d.by_status == {s.value: exp.by_status.get(s.value, 0) for s in RequestStatus}
    assert (d.due_2d, d.due_7d, d.overdue) == (exp.due_2d, exp.due_7d, exp.overdue)
    assert (d.due_2d, d.due_7d, d.overdue) == (4, 8, 2)  # 3 + 1 within 2 days; 3 + 3 + 2 within 7
    assert d.needs_attention.total == 2
    assert [i.id for i in d.needs_attention.items] == exp.attention[::-1]  # due soonest first
    assert all(i.failed == ("orders",) for i in d.needs_attention.items)
    assert [i.id for i in d.needs_review.items] == exp.review
    assert d.overdue_queue.total == 2 and all(i.overdue for i in d.overdue_queue.items)
    assert d.complaints_waiting == exp.complaints_waiting == 2


def test_time_to_reply_against_the_deadline(url: str) -> None:
    """Replies of the last 90 days, grouped by local day; late ones counted; older ones left out."""
    now = utcnow()
    with session_scope(url) as session:
        exp = fill(session, now)
    with Session(get_engine(url)) as session:
        d = dashboard.build(session, zone=HCM, now=now)
    assert d.replies == exp.completed and d.replies_late == exp.late > 0
    assert {r.day.isoformat() for r in d.reply_days} == exp.reply_days
    assert sum(r.replies for r in d.reply_days) == exp.completed
    assert sum(r.late for r in d.reply_days) == exp.late
    assert all(r.max_days >= r.median_days > 0 for r in d.reply_days)
    assert all(10 <= r.median_allowed_days <= 20 for r in d.reply_days)
    assert d.median_days is not None and d.p90_days is not None
    assert d.median_days <= d.p90_days
    assert not d.capped


def test_store_failure_rates(url: str) -> None:
    """Per store: tasks finished in the window, failed for good, and done only after a retry."""
    now = utcnow()
    with session_scope(url) as session:
        exp = fill(session, now)
    with Session(get_engine(url)) as session:
        d = dashboard.build(session, zone=HCM, now=now)
    rates = {s.connector: (s.tasks, s.failed, s.retried) for s in d.stores}
    assert rates == {s: (exp.tasks[s], exp.failed[s], exp.retried[s]) for s in STORES}
    orders = next(s for s in d.stores if s.connector == "orders")
    assert orders.failed == 2 and orders.failed_rate == pytest.approx(2 / exp.tasks["orders"])


def test_an_empty_ledger_shows_zeros(url: str) -> None:
    """No requests: every count is zero and there is nothing to chart."""
    with Session(get_engine(url)) as session:
        d = dashboard.build(session, zone=HCM)
    assert set(d.by_status.values()) == {0}
    assert (d.open_total, d.due_2d, d.due_7d, d.overdue, d.replies) == (0, 0, 0, 0, 0)
    assert d.reply_days == [] and d.stores == [] and d.median_days is None


def test_a_reply_after_local_midnight_counts_on_the_local_day(url: str) -> None:
    """Days are the company's local days: 00:30 in Hồ Chí Minh City (17:30 UTC the day before)
    is charted on the local date."""
    now = utcnow()
    sent = (now - timedelta(days=3)).replace(hour=17, minute=30, second=0, microsecond=0)
    with session_scope(url) as session:
        session.add(
            Request(
                kind="access",
                status=RequestStatus.COMPLETED,
                jurisdiction="vn",
                email="a@example.com",
                received_at=sent - timedelta(days=2),
                due_at=sent + timedelta(days=8),
                completed_at=sent,
                updated_at=sent,
            )
        )
    with Session(get_engine(url)) as session:
        d = dashboard.build(session, zone=HCM, now=now)
    [day] = d.reply_days
    assert day.day == sent.date() + timedelta(days=1)
    assert (day.replies, day.late, day.median_allowed_days) == (1, 0, 10)
