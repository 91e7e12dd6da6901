"""A ledger with 90 days of history for the ops dashboard, and the figures it must show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random

from sqlmodel import Session

from dsr.core.ledger.models import (
    Complaint,
    ConnectorTask,
    Request,
    RequestKind,
    RequestStatus,
    TaskStatus,
)

STORES = ("crm", "newsletter", "orders", "recordings")
ALLOWED = {"access": 10, "rectify": 10, "erase": 20, "complaint": 15}


@dataclass
class Expected:
    """What the dashboard must count for the ledger ``fill`` wrote."""

    completed: int = 0
    late: int = 0
    reply_days: set[str] = field(default_factory=set)  # ISO dates (Asia/Ho_Chi_Minh)
    due_2d: int = 0
    due_7d: int = 0
    overdue: int = 0
    attention: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    complaints_waiting: int = 0
    tasks: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    retried: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)


def _request(
    session: Session,
    exp: Expected,
    kind: str,
    status: RequestStatus,
    received: datetime,
    due: datetime,
    *,
    completed: datetime | None = None,
    attention: str | None = None,
) -> Request:
    row = Request(
        kind=kind,
        status=status,
        jurisdiction="vn",
        language="vi",
        email=f"subject{sum(exp.by_status.values())}@example.com",
        received_at=received,
        due_at=due,
        completed_at=completed,
        updated_at=completed or received,
        attention=attention,
    )
    session.add(row)
    session.flush()  # its tasks and complaint row refer to it
    exp.by_status[status] = exp.by_status.get(status, 0) + 1
    return row


def _tasks(
    session: Session,
    exp: Expected,
    request: Request,
    finished: datetime,
    rng: Random,
    *,
    fail: str = "",
) -> None:
    for store in STORES:
        failed = store == fail
        retried = not failed and rng.random() < (0.25 if store == "orders" else 0.05)
        session.add(
            ConnectorTask(
                request_id=request.id,
                connector=store,
                status=TaskStatus.FAILED if failed else TaskStatus.DONE,
                attempts=2 if retried or failed else 1,
                started_at=finished - timedelta(seconds=30),
                finished_at=finished,
                updated_at=finished,
            )
        )
        exp.tasks[store] = exp.tasks.get(store, 0) + 1
        exp.failed[store] = exp.failed.get(store, 0) + failed
        exp.retried[store] = exp.retried.get(store, 0) + retried


def fill(session: Session, now: datetime, *, seed: int = 7) -> Expected:
    """Completed requests over the last 90 days (some late), and every kind of open request."""
    from zoneinfo import ZoneInfo

    hcm = ZoneInfo("Asia/Ho_Chi_Minh")
    rng = Random(seed)
    exp = Expected()
    kinds = list(ALLOWED)
    for _ in range(140):
        kind = rng.choice(kinds)
        allowed = ALLOWED[kind]
        completed = now - timedelta(days=rng.uniform(0.2, 88), minutes=rng.randint(0, 600))
        late = rng.random() < 0.06
        taken = allowed + rng.uniform(0.5, 4) if late else rng.uniform(0.1, allowed * 0.8)
        received = completed - timedelta(days=taken)
        request = _request(
            session,
            exp,
            kind,
            RequestStatus.COMPLETED,
            received,
            received + timedelta(days=allowed),
            completed=completed,
        )
        if kind != RequestKind.COMPLAINT:
            _tasks(session, exp, request, completed - timedelta(hours=1), rng)
        exp.completed += 1
        exp.late += late
        exp.reply_days.add(completed.astimezone(hcm).date().isoformat())
    # An old reply, outside the window: counted nowhere on the chart.
    _request(
        session,
        exp,
        "access",
        RequestStatus.COMPLETED,
        now - timedelta(days=120),
        now - timedelta(days=110),
        completed=now - timedelta(days=115),
    )
    for hours in (5, 30, 44):  # due within 2 days
        _request(
            session,
            exp,
            "erase",
            RequestStatus.IN_PROGRESS,
            now - timedelta(days=18),
            now + timedelta(hours=hours),
        )
        exp.due_2d += 1
        exp.due_7d += 1
    for days in (3, 5, 6.5):  # due within 7 days, not 2
        _request(
            session,
            exp,
            "access",
            RequestStatus.AWAITING_VERIFICATION,
            now - timedelta(days=2),
            now + timedelta(days=days),
        )
        exp.due_7d += 1
    _request(
        session, exp, "access", RequestStatus.VERIFIED, now, now + timedelta(days=10)
    )  # due later
    for days in (1, 4):
        _request(
            session,
            exp,
            "access",
            RequestStatus.IN_PROGRESS,
            now - timedelta(days=10 + days),
            now - timedelta(days=days),
        )
        exp.overdue += 1
    for days, left in ((8, 2.5), (9, 1)):  # a store failed; due in 2.5 days and in 1 day
        request = _request(
            session,
            exp,
            "access",
            RequestStatus.NEEDS_ATTENTION,
            now - timedelta(days=days),
            now + timedelta(days=left),
            attention="connector task failed",
        )
        _tasks(session, exp, request, now - timedelta(days=days - 1), rng, fail="orders")
        exp.attention.append(request.id)
        exp.due_2d += left < 2
        exp.due_7d += 1
    review = _request(
        session,
        exp,
        "erase",
        RequestStatus.NEEDS_REVIEW,
        now - timedelta(days=3),
        now + timedelta(days=17),
    )
    exp.review.append(review.id)
    for text in ("Tôi bị gọi quảng cáo.", "Email của tôi bị lộ."):
        complaint = _request(
            session,
            exp,
            "complaint",
            RequestStatus.IN_PROGRESS,
            now - timedelta(days=1),
            now + timedelta(days=14),
        )
        session.add(Complaint(request_id=complaint.id, text=text))
        exp.complaints_waiting += 1
    session.flush()
    return exp
