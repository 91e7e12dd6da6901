"""Sending one outbox row, and what a sent message changes (acknowledged, completed, late)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, col

from dsr.config.settings import Settings
from dsr.core import audit, mailer, messages, steps, undeliverable
from dsr.core.db import changed
from dsr.core.models import Outbox, OutboxStatus, Request, RequestStatus, utcnow
from dsr.core.outbox import REPLY
from dsr.errors import DeliveryError, NotFound, PermanentDeliveryError


def deliver(session: Session, settings: Settings, outbox_id: str) -> list[steps.Step]:
    """Send one pending message and record what followed; a sent message is never resent."""
    row = session.get(Outbox, outbox_id)
    if row is None:
        raise NotFound(f"no outbox row {outbox_id}")
    if row.status != OutboxStatus.PENDING:
        return []
    request = session.get(Request, row.request_id) if row.request_id else None
    if row.purpose == REPLY and request is not None:
        alerts = _flag_if_late(session, settings, request)
        session.commit()
        for alert in alerts:  # ops hear of a late reply before the subject receives it
            deliver(session, settings, alert.id)
    raw = Path(row.path).read_bytes()
    try:
        mailer.send(raw, recipient=row.recipient, settings=settings)
    except PermanentDeliveryError as err:
        follow = undeliverable.fail(session, settings, row, request, str(err))
        session.commit()
        return follow  # refused for good: retrying will not help, ops are told
    except Exception as err:
        if isinstance(err, DeliveryError) and undeliverable.gave_up(row, settings):
            follow = undeliverable.fail(session, settings, row, request, f"{err} (gave up)")
            session.commit()
            return follow
        session.execute(
            update(Outbox)
            .where(col(Outbox.id) == row.id)
            .values(attempts=Outbox.attempts + 1, last_error=str(err)[:500])
        )
        session.commit()
        raise
    now = utcnow()
    won = changed(
        session,
        update(Outbox)
        .where(
            col(Outbox.id) == row.id,
            col(Outbox.status) == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.SENT, sent_at=now, attempts=Outbox.attempts + 1),
    )
    if not won:
        return []
    audit.record(
        session,
        actor="system",
        action=f"email_sent:{row.purpose}",
        request_id=row.request_id,
        message_id=row.message_id,
    )
    if request is not None:
        _after_sent(session, request, row.purpose)
    if row.purpose.startswith("verification"):
        Path(row.path).unlink(missing_ok=True)  # the code must not outlive its e-mail on disk
    return []


def _after_sent(session: Session, request: Request, purpose: str) -> None:
    now = utcnow()
    if purpose == "acknowledgement":
        session.execute(
            update(Request)
            .where(col(Request.id) == request.id)
            .values(acknowledged_at=now, updated_at=now)
        )
    elif purpose == REPLY:
        done = changed(
            session,
            update(Request)
            .where(
                col(Request.id) == request.id,
                col(Request.status) == RequestStatus.REPLYING,
            )
            .values(status=RequestStatus.COMPLETED, completed_at=now, updated_at=now),
        )
        if done:
            audit.record(session, actor="system", action="completed", request_id=request.id)


def _flag_if_late(session: Session, settings: Settings, request: Request) -> list[steps.Step]:
    """A reply leaving after due_at is flagged for ops first (S7)."""
    if request.late or utcnow() <= request.due_at:
        return []
    session.execute(update(Request).where(col(Request.id) == request.id).values(late=True))
    audit.record(session, actor="system", action="flagged_late", request_id=request.id)
    return [messages.ops_alert(session, settings, request, "late_reply")]
