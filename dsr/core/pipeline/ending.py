"""Requests that end: canceled by staff or the filer, or expired while nobody proved the address.

Anyone can file for any address, so a request whose one-time code never comes back must not stay
open (and count as overdue) for ever: after ``verify_within_days`` it is ``canceled`` by the
scheduler, audited, and nothing is sent to the address (it may not be the filer's).
A request whose reply is being sent (``replying``) or that is already closed cannot be canceled.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from dsr.core.ledger import audit
from dsr.core.ledger.db import changed
from dsr.core.ledger.models import (
    OPEN_REQUEST,
    ConnectorTask,
    Request,
    RequestStatus,
    TaskStatus,
    utcnow,
)
from dsr.errors import InvalidInput, StateConflict

CANCELABLE = tuple(s for s in OPEN_REQUEST if s != RequestStatus.REPLYING)
UNVERIFIED = (RequestStatus.RECEIVED, RequestStatus.AWAITING_VERIFICATION)
MAX_REASON = 500


def _close(session: Session, request_id: str, now: datetime, among: tuple[str, ...]) -> bool:
    """One conditional UPDATE: exactly one caller wins; unfinished tasks are skipped."""
    won = changed(
        session,
        update(Request)
        .where(col(Request.id) == request_id, col(Request.status).in_(among))
        .values(
            status=RequestStatus.CANCELED,
            code_hash=None,
            code_expires_at=None,
            completed_at=now,
            updated_at=now,
        ),
    )
    if won:
        session.execute(
            update(ConnectorTask)
            .where(
                col(ConnectorTask.request_id) == request_id,
                col(ConnectorTask.status) == TaskStatus.PENDING,
            )
            .values(status=TaskStatus.SKIPPED, error="request canceled")
        )
    return bool(won)


def cancel(session: Session, request: Request, *, reason: str, by: str) -> None:
    """Cancel an open request with a reason (the audit log keeps who and why)."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a reason is required to cancel a request")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    if request.status not in CANCELABLE:
        raise StateConflict(f"request {request.id} is {request.status}: it cannot be canceled")
    if not _close(session, request.id, utcnow(), CANCELABLE):
        raise StateConflict(f"request {request.id} changed meanwhile: look again")
    audit.record(session, actor=by, action="canceled", request_id=request.id, reason=reason)


def expire_unverified(session: Session, *, days: int, now: datetime | None = None) -> list[str]:
    """Cancel requests received more than ``days`` ago whose address was never proven; the ids.

    Idempotent: a second run (or a second scheduler) finds nothing left to do."""
    now = now or utcnow()
    stale = list(
        session.exec(
            select(Request.id).where(
                col(Request.status).in_(UNVERIFIED),
                col(Request.verified_email).is_(None),
                col(Request.verified_by).is_(None),
                col(Request.received_at) < now - timedelta(days=days),
            )
        )
    )
    done = []
    for request_id in stale:
        if _close(session, request_id, now, UNVERIFIED):
            audit.record(
                session,
                actor="scheduler",
                action="expired_unverified",
                request_id=request_id,
                days=days,
            )
            done.append(request_id)
    return done
