"""The yearly DSR report: what a controller publishes (CCPA Regs §7102) or shows (Decree 356).

Every figure is aggregated by the database, each ledger table read once: requests (counts per
kind and status, late replies and by how much, open ones past due), their reply times (median
and 90th percentile with window functions, the same SQL on PostgreSQL, SQLite and MariaDB),
denial and cancellation reasons, deadline extensions (audit events), connector tasks (per store:
tasks, failures, retries) and notices to recipients. Python only adds up the handful of grouped
rows that come back. Requests count in the period in which they were *received*, measured in the
jurisdiction's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlmodel import Session, col

from dsr.core.ledger.models import (
    OPEN_REQUEST,
    AuditEvent,
    ConnectorTask,
    Notice,
    NoticeStatus,
    Request,
    RequestKind,
    RequestStatus,
    TaskStatus,
    utcnow,
)

KINDS = [k.value for k in RequestKind]
TOTAL = "total"
EXTENDED = "deadline_extended"  # the audit action a deadline extension records
_DAY = 86400.0
# Percentiles as (numerator, denominator): integer arithmetic picks the rows on every engine.
_PERCENTILES = {"median": (1, 2), "p90": (9, 10)}


@dataclass
class KindFigures:
    """One kind's (or the total's) figures for the period."""

    kind: str
    received: int = 0
    verified: int = 0
    completed: int = 0
    denied: int = 0  # rejected
    canceled: int = 0
    open: int = 0
    open_overdue: int = 0  # still open and past its deadline today
    median_days: float | None = None  # receipt -> reply, completed requests
    p90_days: float | None = None
    late: int = 0  # replied after the deadline
    late_mean_days: float | None = None  # by how much, on average
    late_max_days: float | None = None
    extensions: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # "denied: <reason>" -> count


@dataclass
class StoreFigures:
    store: str
    tasks: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0  # still failed (waiting for ops)
    retried: int = 0  # tasks that needed more than one attempt
    retries: int = 0  # attempts beyond the first, all tasks


@dataclass
class NoticeFigures:
    recipient: str
    sent: int = 0
    refused: int = 0  # the recipient's server refused it for good
    no_contact: int = 0
    not_needed: int = 0
    pending: int = 0


@dataclass
class YearlyReport:
    start: date
    end: date  # inclusive
    jurisdiction: str | None
    timezone: str
    generated_at: datetime
    kinds: list[KindFigures]  # one per kind, then the total
    stores: list[StoreFigures]
    notices: list[NoticeFigures]

    @property
    def total(self) -> KindFigures:
        return self.kinds[-1]


def _days(later: Any, earlier: Any, dialect: str) -> ColumnElement[Any]:
    """``later - earlier`` in days, as the engine computes it."""
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier) / _DAY
    if dialect in ("mysql", "mariadb"):
        return func.timestampdiff(literal_column("SECOND"), earlier, later) / _DAY
    return func.julianday(later) - func.julianday(earlier)


def _window(start: date, end: date, zone: ZoneInfo, jurisdiction: str | None) -> list[Any]:
    first = datetime.combine(start, time(), zone)
    after = datetime.combine(end + timedelta(days=1), time(), zone)
    clauses: list[Any] = [col(Request.received_at) >= first, col(Request.received_at) < after]
    if jurisdiction:
        clauses.append(col(Request.jurisdiction) == jurisdiction)
    return clauses


def _n(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _request_counts(
    session: Session, where: list[Any], dialect: str
) -> tuple[dict[str, KindFigures], dict[str, float]]:
    """Per kind: the counts, and the days late summed over late replies."""
    status, now = col(Request.status), utcnow()
    completed = status == RequestStatus.COMPLETED
    late = and_(completed, col(Request.completed_at) > col(Request.due_at))
    late_days = _days(col(Request.completed_at), col(Request.due_at), dialect)
    open_ = status.in_(OPEN_REQUEST)
    rows = session.execute(
        select(
            col(Request.kind),
            func.count(),
            _n(
                or_(col(Request.verified_email).is_not(None), col(Request.verified_by).is_not(None))
            ),
            _n(completed),
            _n(status == RequestStatus.REJECTED),
            _n(status == RequestStatus.CANCELED),
            _n(open_),
            _n(and_(open_, col(Request.due_at) < now)),
            _n(late),
            func.sum(case((late, late_days), else_=None)),
            func.max(case((late, late_days), else_=None)),
        )
        .where(*where)
        .group_by(col(Request.kind))
    ).all()
    out, late_sums = {}, {}
    for kind, *v in rows:
        names = ("received", "verified", "completed", "denied", "canceled", "open",
                 "open_overdue", "late")  # fmt: skip
        figures = KindFigures(kind, late_max_days=_round(v[9]))
        for name, value in zip(names, v[:8], strict=True):
            setattr(figures, name, int(value or 0))
        late_sums[kind] = float(v[8] or 0)
        figures.late_mean_days = _round(late_sums[kind] / figures.late) if figures.late else None
        out[kind] = figures
    return out, late_sums


def _reply_percentiles(
    session: Session, where: list[Any], dialect: str
) -> dict[str, dict[str, float]]:
    """Median and p90 of receipt -> reply, per kind and in total (``percentile_cont``'s
    interpolation, from row numbers: one sort per group, the same on every engine)."""
    took = _days(col(Request.completed_at), col(Request.received_at), dialect)
    done = [*where, col(Request.status) == RequestStatus.COMPLETED]
    both = union_all(
        select(col(Request.kind).label("k"), took.label("d")).where(*done),
        select(literal(TOTAL).label("k"), took.label("d")).where(*done),
    ).subquery()
    ranked = select(
        both.c.k,
        both.c.d,
        func.row_number().over(partition_by=both.c.k, order_by=both.c.d).label("rn"),
        func.count().over(partition_by=both.c.k).label("n"),
    ).subquery()
    columns: list[Any] = [ranked.c.k, func.max(ranked.c.n)]
    for num, den in _PERCENTILES.values():
        low = (ranked.c.n - 1) * num // den + 1  # 1-based row at or below the percentile
        columns += [
            func.max(case((ranked.c.rn == low, ranked.c.d), else_=None)),
            func.max(case((ranked.c.rn == low + 1, ranked.c.d), else_=None)),
        ]
    out: dict[str, dict[str, float]] = {}
    for k, n, *values in session.execute(select(*columns).group_by(ranked.c.k)).all():
        figures = {}
        for i, (name, (num, den)) in enumerate(_PERCENTILES.items()):
            low, high = values[2 * i], values[2 * i + 1]
            frac = ((int(n) - 1) * num % den) / den
            value = float(low) + frac * (float(high) - float(low) if high is not None else 0.0)
            figures[name] = round(value, 1)
        out[k] = figures
    return out


def _reasons(session: Session, where: list[Any]) -> dict[str, dict[str, int]]:
    status = col(Request.status)
    rows = session.execute(
        select(col(Request.kind), status, col(Request.attention), func.count())
        .where(*where, status.in_([RequestStatus.REJECTED, RequestStatus.CANCELED]))
        .group_by(col(Request.kind), status, col(Request.attention))
    ).all()
    out: dict[str, dict[str, int]] = {}
    for kind, st, why, n in rows:
        label = "denied" if st == RequestStatus.REJECTED else "canceled"
        out.setdefault(kind, {})[f"{label}: {why or 'no reason recorded'}"] = int(n)
    return out


def _extensions(session: Session, where: list[Any]) -> dict[str, int]:
    rows = session.execute(
        select(col(Request.kind), func.count())
        .join(AuditEvent, col(AuditEvent.request_id) == col(Request.id))
        .where(*where, col(AuditEvent.action) == EXTENDED)
        .group_by(col(Request.kind))
    ).all()
    return {kind: int(n) for kind, n in rows}


def _stores(session: Session, where: list[Any]) -> list[StoreFigures]:
    status, attempts = col(ConnectorTask.status), col(ConnectorTask.attempts)
    rows = session.execute(
        select(
            col(ConnectorTask.connector),
            func.count(),
            _n(status == TaskStatus.DONE),
            _n(status == TaskStatus.SKIPPED),
            _n(status == TaskStatus.FAILED),
            _n(attempts > 1),
            func.sum(case((attempts > 1, attempts - 1), else_=0)),
        )
        .join(Request, col(Request.id) == col(ConnectorTask.request_id))
        .where(*where)
        .group_by(col(ConnectorTask.connector))
        .order_by(col(ConnectorTask.connector))
    ).all()
    return [StoreFigures(name, *(int(x or 0) for x in v)) for name, *v in rows]


def _notices(session: Session, where: list[Any]) -> list[NoticeFigures]:
    rows = session.execute(
        select(col(Notice.name), col(Notice.status), func.count())
        .join(Request, col(Request.id) == col(Notice.request_id))
        .where(*where)
        .group_by(col(Notice.name), col(Notice.status))
    ).all()
    by_name: dict[str, NoticeFigures] = {}
    fields = {
        NoticeStatus.SENT: "sent",
        NoticeStatus.FAILED: "refused",
        NoticeStatus.NO_CONTACT: "no_contact",
        NoticeStatus.NOT_NEEDED: "not_needed",
        NoticeStatus.PENDING: "pending",
    }
    for name, st, n in rows:
        figures = by_name.setdefault(name, NoticeFigures(name))
        attr = fields.get(st, "pending")
        setattr(figures, attr, getattr(figures, attr) + int(n))
    return [by_name[k] for k in sorted(by_name)]


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def yearly(
    session: Session,
    *,
    start: date,
    end: date,
    zone: ZoneInfo,
    jurisdiction: str | None = None,
) -> YearlyReport:
    """The period's figures per kind and in total, per store and per recipient."""
    dialect = session.get_bind().dialect.name
    where = _window(start, end, zone, jurisdiction)
    counts, late_sums = _request_counts(session, where, dialect)
    times = _reply_percentiles(session, where, dialect)
    reasons = _reasons(session, where)
    extended = _extensions(session, where)
    kinds = [counts.get(k, KindFigures(k)) for k in KINDS]
    total = KindFigures(TOTAL)
    for k in kinds:
        k.median_days = times.get(k.kind, {}).get("median")
        k.p90_days = times.get(k.kind, {}).get("p90")
        k.reasons = dict(sorted(reasons.get(k.kind, {}).items()))
        k.extensions = extended.get(k.kind, 0)
        for name in ("received", "verified", "completed", "denied", "canceled", "open",
                     "open_overdue", "late", "extensions"):  # fmt: skip
            setattr(total, name, getattr(total, name) + getattr(k, name))
        if k.late_max_days is not None:
            total.late_max_days = max(total.late_max_days or 0.0, k.late_max_days)
        for why, n in k.reasons.items():
            total.reasons[why] = total.reasons.get(why, 0) + n
    total.median_days = times.get(TOTAL, {}).get("median")
    total.p90_days = times.get(TOTAL, {}).get("p90")
    total.late_mean_days = _round(sum(late_sums.values()) / total.late) if total.late else None
    total.reasons = dict(sorted(total.reasons.items()))
    return YearlyReport(
        start=start,
        end=end,
        jurisdiction=jurisdiction,
        timezone=str(zone),
        generated_at=utcnow().replace(microsecond=0),
        kinds=[*kinds, total],
        stores=_stores(session, where),
        notices=_notices(session, where),
    )
