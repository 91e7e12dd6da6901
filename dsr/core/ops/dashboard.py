"""What the ops dashboard shows, read from the ledger in a handful of aggregate queries.

Counts by status; open requests due within 2 and 7 days and overdue; the queues that wait for a
person (``needs_attention``: a store failed; ``needs_review``: staff must decide; complaints);
time-to-reply against the deadline per local day over the last 90 days; and each store's failure
rate. Ids, kinds, dates and connector names only: the page is for running the system, not for
reading anyone's data.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from dsr.core.ledger.models import (
    OPEN_REQUEST,
    ConnectorTask,
    Request,
    RequestKind,
    RequestStatus,
    TaskStatus,
    utcnow,
)
from dsr.core.runtime.deadlines import is_overdue, overdue_clause

WINDOW_DAYS = 90
QUEUE_LIMIT = 50  # rows shown per queue; the count above it is exact
REPLY_CAP = 50_000  # replies read for the chart; beyond it the oldest are left out (and said so)
_DAY = 86400.0


@dataclass(frozen=True)
class QueueItem:
    """One request waiting for a person."""

    id: str
    kind: str
    status: str
    received_at: datetime
    due_at: datetime
    overdue: bool
    attention: str | None = None
    failed: tuple[str, ...] = ()  # connectors whose task failed


@dataclass(frozen=True)
class Queue:
    """A queue's exact size and its first ``QUEUE_LIMIT`` items, the most urgent first."""

    total: int
    items: list[QueueItem]


@dataclass(frozen=True)
class ReplyDay:
    """The replies completed on one local day: how long they took and how long they had."""

    day: date
    replies: int
    late: int
    median_days: float
    max_days: float
    median_allowed_days: float


@dataclass(frozen=True)
class StoreRate:
    """One store's connector tasks finished in the window, and how many failed or were retried."""

    connector: str
    tasks: int
    failed: int
    retried: int

    @property
    def failed_rate(self) -> float:
        return self.failed / self.tasks if self.tasks else 0.0

    @property
    def retried_rate(self) -> float:
        return self.retried / self.tasks if self.tasks else 0.0


@dataclass
class Dashboard:
    now: datetime
    since: datetime
    by_status: dict[str, int]
    open_total: int
    due_2d: int
    due_7d: int
    overdue: int
    needs_attention: Queue
    needs_review: Queue
    overdue_queue: Queue
    complaints_waiting: int
    reply_days: list[ReplyDay] = field(default_factory=list)
    replies: int = 0
    replies_late: int = 0
    median_days: float | None = None
    p90_days: float | None = None
    capped: bool = False
    stores: list[StoreRate] = field(default_factory=list)


def build(session: Session, *, zone: ZoneInfo, now: datetime | None = None) -> Dashboard:
    """The dashboard as of ``now``; days are counted in ``zone`` (the default profile's)."""
    now = now or utcnow()
    since = now - timedelta(days=WINDOW_DAYS)
    by_status = {s.value: 0 for s in RequestStatus}
    for status, n in session.exec(
        select(Request.status, func.count()).group_by(col(Request.status))
    ):
        by_status[status] = n
    is_open = col(Request.status).in_(OPEN_REQUEST)
    due = col(Request.due_at)
    soon_2 = func.sum(case((due < now + timedelta(days=2), 1), else_=0))
    soon_7 = func.sum(case((due < now + timedelta(days=7), 1), else_=0))
    due_2d, due_7d = session.exec(select(soon_2, soon_7).where(is_open, due >= now)).one()
    overdue = session.exec(
        select(func.count()).select_from(Request).where(overdue_clause(now))
    ).one()
    complaints_waiting = session.exec(
        select(func.count())
        .select_from(Request)
        .where(Request.kind == RequestKind.COMPLAINT, Request.status == RequestStatus.IN_PROGRESS)
    ).one()
    dash = Dashboard(
        now=now,
        since=since,
        by_status=by_status,
        open_total=sum(by_status[s] for s in OPEN_REQUEST),
        due_2d=int(due_2d or 0),
        due_7d=int(due_7d or 0),
        overdue=overdue,
        needs_attention=_queue(session, now, Request.status == RequestStatus.NEEDS_ATTENTION),
        needs_review=_queue(session, now, Request.status == RequestStatus.NEEDS_REVIEW),
        overdue_queue=_queue(session, now, overdue_clause(now), total=overdue),
        complaints_waiting=complaints_waiting,
    )
    _replies(session, dash, zone)
    dash.stores = _stores(session, since)
    return dash


def _queue(session: Session, now: datetime, where: Any, *, total: int | None = None) -> Queue:
    if total is None:
        total = session.exec(select(func.count()).select_from(Request).where(where)).one()
    rows = list(
        session.exec(select(Request).where(where).order_by(col(Request.due_at)).limit(QUEUE_LIMIT))
    )
    failed: dict[str, list[str]] = defaultdict(list)
    if rows:
        for request_id, connector in session.exec(
            select(ConnectorTask.request_id, ConnectorTask.connector)
            .where(
                col(ConnectorTask.request_id).in_([r.id for r in rows]),
                ConnectorTask.status == TaskStatus.FAILED,
            )
            .order_by(col(ConnectorTask.connector))
        ):
            failed[request_id].append(connector)
    items = [
        QueueItem(
            id=r.id,
            kind=r.kind,
            status=r.status,
            received_at=r.received_at,
            due_at=r.due_at,
            overdue=is_overdue(r.status, r.due_at, now),
            attention=r.attention,
            failed=tuple(failed[r.id]),
        )
        for r in rows
    ]
    return Queue(total, items)


def _replies(session: Session, dash: Dashboard, zone: ZoneInfo) -> None:
    """Per local day: median and longest time to reply, and the median time allowed."""
    rows = list(
        session.exec(
            select(Request.received_at, Request.due_at, Request.completed_at)
            .where(
                Request.status == RequestStatus.COMPLETED,
                col(Request.completed_at).is_not(None),
                col(Request.completed_at) >= dash.since,
                col(Request.completed_at) <= dash.now,
            )
            .order_by(col(Request.completed_at).desc())
            .limit(REPLY_CAP + 1)
        )
    )
    dash.capped = len(rows) > REPLY_CAP
    rows = rows[:REPLY_CAP]
    taken_by_day: dict[date, list[float]] = defaultdict(list)
    allowed_by_day: dict[date, list[float]] = defaultdict(list)
    late_by_day: dict[date, int] = defaultdict(int)
    every: list[float] = []
    for received, due, completed in rows:
        assert completed is not None
        day = completed.astimezone(zone).date()
        taken = (completed - received).total_seconds() / _DAY
        taken_by_day[day].append(taken)
        allowed_by_day[day].append((due - received).total_seconds() / _DAY)
        late_by_day[day] += completed > due
        every.append(taken)
    dash.reply_days = [
        ReplyDay(
            day=day,
            replies=len(taken_by_day[day]),
            late=late_by_day[day],
            median_days=statistics.median(taken_by_day[day]),
            max_days=max(taken_by_day[day]),
            median_allowed_days=statistics.median(allowed_by_day[day]),
        )
        for day in sorted(taken_by_day)
    ]
    dash.replies = len(every)
    dash.replies_late = sum(late_by_day.values())
    if every:
        dash.median_days = statistics.median(every)
        dash.p90_days = (
            statistics.quantiles(every, n=10, method="inclusive")[-1]
            if len(every) > 1
            else every[0]
        )


def _stores(session: Session, since: datetime) -> list[StoreRate]:
    """Tasks finished in the window per store: failed for good, and done only after a retry."""
    failed = func.sum(case((col(ConnectorTask.status) == TaskStatus.FAILED, 1), else_=0))
    retried = func.sum(
        case(
            (
                (col(ConnectorTask.status) != TaskStatus.FAILED)
                & (col(ConnectorTask.attempts) > 1),
                1,
            ),
            else_=0,
        )
    )
    rows = session.exec(
        select(ConnectorTask.connector, func.count(), failed, retried)
        .where(
            col(ConnectorTask.status).in_((TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.SKIPPED)),
            col(ConnectorTask.finished_at) >= since,
        )
        .group_by(col(ConnectorTask.connector))
        .order_by(col(ConnectorTask.connector))
    )
    return [StoreRate(c, int(n), int(f or 0), int(r or 0)) for c, n, f, r in rows]
