"""A message that cannot be delivered: refused for good (5xx), or refused for now for too long.

Retries end, the outbox row is ``failed``, and ops hear of it through an alert (ledger row, log
event, metric; an e-mail too unless the ops mailbox is what refuses). When the message was the
subject's reply or verification code, the request goes to ``needs_attention`` with the reason,
since it cannot finish on its own; ``dsr retry`` sends the message again (``resend``).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from config.settings import Settings
from dsr.core.ledger import audit
from dsr.core.ledger.db import changed
from dsr.core.ledger.models import Outbox, OutboxStatus, Request, RequestStatus, utcnow
from dsr.core.replies import alerts
from dsr.core.replies.outbox import REPLY
from dsr.core.runtime import steps

_WAITING_ON = {REPLY: RequestStatus.REPLYING, "verification": RequestStatus.AWAITING_VERIFICATION}


def _blocks(purpose: str) -> RequestStatus | None:
    """The request status that waits on this message, if the request cannot go on without it."""
    return _WAITING_ON.get(purpose.split(":", 1)[0])


def gave_up(row: Outbox, settings: Settings) -> bool:
    """Whether a message refused only for now has been retried long enough."""
    return utcnow() - row.created_at >= timedelta(seconds=settings.delivery_give_up_seconds)


def fail(
    session: Session, settings: Settings, row: Outbox, request: Request | None, error: str
) -> list[steps.Step]:
    """End retries of one message and tell ops (no-op if it was sent or failed already)."""
    won = changed(
        session,
        update(Outbox)
        .where(col(Outbox.id) == row.id, col(Outbox.status) == OutboxStatus.PENDING)
        .values(status=OutboxStatus.FAILED, attempts=Outbox.attempts + 1, last_error=error[:500]),
    )
    if not won:
        return []
    audit.record(
        session,
        actor="system",
        action=f"email_failed:{row.purpose}",
        request_id=row.request_id,
        message_id=row.message_id,
        error=error[:200],
    )
    waiting = _blocks(row.purpose)
    if request is not None and waiting is not None:
        now = utcnow()
        reason = f"{row.purpose} undeliverable: {error}"[:500]
        if changed(
            session,
            update(Request)
            .where(col(Request.id) == request.id, col(Request.status) == waiting)
            .values(status=RequestStatus.NEEDS_ATTENTION, attention=reason, updated_at=now),
        ):
            audit.record(session, actor="system", action="needs_attention", request_id=request.id)
    to_ops = row.purpose.startswith(("ops:", "reminder:"))
    return alerts.raise_alert(
        session,
        settings,
        reason="delivery_failed",
        request=request,
        occasion=row.purpose,
        email=not to_ops,  # the ops mailbox is what refuses: the row and the log must do
        purpose=row.purpose,
        error=error[:200],
    )


def resend(session: Session, request: Request, *, by: str) -> list[steps.Step]:
    """``dsr retry`` of a request whose message failed: queue it again as new."""
    rows = session.exec(
        select(Outbox).where(Outbox.request_id == request.id, Outbox.status == OutboxStatus.FAILED)
    ).all()
    out: list[steps.Step] = []
    now = utcnow()
    for row in rows:
        waiting = _blocks(row.purpose)
        if waiting is None:
            continue
        row.status, row.attempts, row.last_error, row.created_at = (
            OutboxStatus.PENDING,
            0,
            None,
            now,
        )
        session.add(row)
        request.status, request.attention, request.updated_at = waiting, None, now
        session.add(request)
        out.append(steps.deliver(row.id))
    if out:
        audit.record(session, actor=by, action="retried", request_id=request.id, resent=len(out))
    return out
