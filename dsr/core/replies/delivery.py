"""Sending one outbox row, and what a sent message changes (acknowledged, completed, late).

Short transactions around the SMTP conversation: read the row (and flag a late reply), claim it
(one sender at a time, a lease renewed while it sends), record the hand-over before the final
dot and commit the sent mark prepared beside it as soon as the server accepts (``handover``:
the window in which a crash makes us send twice is one round trip and a COMMIT, and a resend
after one is counted), then record what the sending changes.
A row marked sent whose consequences were never recorded is finished by the next delivery
attempt (re-drive finds it), never sent again.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from config.settings import Settings
from dsr.core.ledger import audit, exports
from dsr.core.ledger.db import UnitOfWork, changed
from dsr.core.ledger.models import Outbox, OutboxStatus, Request, RequestStatus, utcnow
from dsr.core.replies import (
    followups,
    mailer,
    messages,
    notices,
    outbox,
    undeliverable,
    webhook,
)
from dsr.core.replies.handover import LeaseLost, LedgerHandover
from dsr.core.replies.outbox import REPLY
from dsr.core.runtime import leases, steps
from dsr.errors import DeliveryError, DeliveryRefused, NotFound

log = structlog.get_logger(__name__)
ACKNOWLEDGEMENT = "acknowledgement"


def deliver(uow: UnitOfWork, settings: Settings, outbox_id: str) -> list[steps.Step]:
    """Send one pending message and record what followed; a sent message is never resent."""
    with uow() as session:
        row = session.get(Outbox, outbox_id)
        if row is None:
            raise NotFound(f"no outbox row {outbox_id}")
        alerts = [] if row.status == OutboxStatus.SENT else _flag_if_late(session, settings, row)
    for alert in alerts:  # ops hear of a late reply before the subject receives it
        deliver(uow, settings, alert.id)
    before = _acknowledged_first(uow, settings, row) if row.status == OutboxStatus.PENDING else []
    if row.status == OutboxStatus.PENDING:
        with uow() as session:
            claim = _claim(session, settings, row)
        if claim is None:
            return []  # another worker is sending it; re-drive takes over if it dies
        try:
            with leases.holding("outbox", row.id):
                _send(uow, settings, row, claim)
        except LeaseLost:
            # Stalled past the lease, and taken over: nothing went, the new holder sends it.
            log.warning("delivery_lease_lost", outbox_id=row.id, purpose=row.purpose)
            return []
        except Exception as err:
            with uow() as session:
                follow = _failed(session, settings, row, claim, err)
            if follow is not None:
                return follow  # refused for good, or for too long: ops act, retries end
            raise
    elif row.status == OutboxStatus.FAILED:
        return []  # refused for good: ops act, re-drive must not knock again
    with uow() as session:
        return before + _finish(session, row, settings)


def _acknowledged_first(uow: UnitOfWork, settings: Settings, row: Outbox) -> list[steps.Step]:
    """A reply never overtakes its request's acknowledgement: a pending one is sent first, and
    while it cannot be, the reply waits (retried) with it. One refused for good is not waited
    for (ops were told)."""
    if row.purpose != REPLY or row.request_id is None:
        return []
    with uow() as session:
        ack = outbox.find(session, row.request_id, ACKNOWLEDGEMENT)
    if ack is None or ack.status != OutboxStatus.PENDING:
        return []
    follow = deliver(uow, settings, ack.id)
    with uow() as session:
        now = session.get(Outbox, ack.id)
    if now is not None and now.status == OutboxStatus.PENDING:
        raise DeliveryError("the acknowledgement is not sent yet: the reply waits for it")
    return follow


def _send(uow: UnitOfWork, settings: Settings, row: Outbox, claim: str) -> None:
    if webhook.is_webhook(row):
        webhook.post(
            row,
            recipient=notices.recipient_of(row.purpose),
            settings=settings,
            handover=LedgerHandover(uow, row.id, claim),
        )
        return
    mailer.send(
        exports.read_location(settings, row.path),
        recipient=row.recipient,
        settings=settings,
        handover=LedgerHandover(uow, row.id, claim),
    )


def _claim(session: Session, settings: Settings, row: Outbox) -> str | None:
    """Take the row for one delivery attempt (a lease, renewed while it lasts): the attempt's
    token, or None if another holds it. An attempt after a hand-over whose answer was never
    recorded is counted as a possible duplicate."""
    now = utcnow()
    claim = uuid.uuid4().hex
    expired = now - timedelta(seconds=settings.task_lease_seconds)
    won = changed(
        session,
        update(Outbox)
        .where(
            col(Outbox.id) == row.id,
            col(Outbox.status) == OutboxStatus.PENDING,
            or_(col(Outbox.claimed_at).is_(None), col(Outbox.claimed_at) < expired),
        )
        .values(claimed_at=now, claim=claim),
    )
    if not won:
        return None
    handed = session.exec(select(Outbox.handed_over_at).where(Outbox.id == row.id)).one()
    if handed is not None:
        session.execute(
            update(Outbox)
            .where(col(Outbox.id) == row.id)
            .values(resends=Outbox.resends + 1, handed_over_at=None)
        )
        log.warning(
            "possible_duplicate",
            outbox_id=row.id,
            purpose=row.purpose,
            message_id=row.message_id,
            handed_over_at=handed.isoformat(),
        )
    return claim


def _failed(
    session: Session, settings: Settings, row: Outbox, claim: str, err: Exception
) -> list[steps.Step] | None:
    """Record a failed attempt: None to retry later, or the steps once retries end (a 5xx
    refusal at once, a temporary failure after ``delivery_give_up_seconds``)."""
    # The attempt is over: its delivery lease too, whatever follows (a retry, or ops' resend);
    # a lease another attempt took over is that attempt's.
    session.execute(
        update(Outbox)
        .where(col(Outbox.id) == row.id, col(Outbox.claim) == claim)
        .values(claimed_at=None, claim=None)
    )
    final = isinstance(err, DeliveryRefused) or (
        isinstance(err, DeliveryError) and undeliverable.gave_up(row, settings)
    )
    if not final:
        session.execute(
            update(Outbox)
            .where(col(Outbox.id) == row.id)
            .values(attempts=Outbox.attempts + 1, last_error=str(err)[:500])
        )
        return None
    error = str(err) if isinstance(err, DeliveryRefused) else f"{err} (gave up)"
    told = notices.refused(session, settings, row, DeliveryRefused(error))
    if told is None:
        told = followups.refused(session, settings, row, error)
    if told is not None:
        return told  # a third party's notice: ops are alerted (an erasure's waits for them)
    request = session.get(Request, row.request_id) if row.request_id else None
    return undeliverable.fail(session, settings, row, request, error)


def _finish(session: Session, row: Outbox, settings: Settings) -> list[steps.Step]:
    """Record, once, what a sent message changes (its audit event, the request's state)."""
    won = changed(
        session,
        update(Outbox)
        .where(
            col(Outbox.id) == row.id,
            col(Outbox.status) == OutboxStatus.SENT,
            col(Outbox.finished_at).is_(None),
        )
        .values(finished_at=utcnow()),
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
    if row.request_id is not None:
        _after_sent(session, row.request_id, row.purpose)
    if row.purpose.startswith("verification"):
        # The code must not outlive its e-mail on disk (or in the bucket).
        exports.delete_location(settings, row.path)
    return notices.after_sent(session, row, utcnow()) + followups.after_sent(session, settings, row)


def _after_sent(session: Session, request_id: str, purpose: str) -> None:
    now = utcnow()
    if purpose == "acknowledgement":
        session.execute(
            update(Request)
            .where(col(Request.id) == request_id)
            .values(acknowledged_at=now, updated_at=now)
        )
    elif purpose == REPLY:
        done = changed(
            session,
            update(Request)
            .where(
                col(Request.id) == request_id,
                col(Request.status) == RequestStatus.REPLYING,
            )
            .values(status=RequestStatus.COMPLETED, completed_at=now, updated_at=now),
        )
        if done:
            audit.record(session, actor="system", action="completed", request_id=request_id)


def _flag_if_late(session: Session, settings: Settings, row: Outbox) -> list[steps.Step]:
    """A reply leaving after due_at is flagged for ops first (S7)."""
    if row.purpose != REPLY or row.request_id is None:
        return []
    request = session.get(Request, row.request_id)
    if request is None or request.late or utcnow() <= request.due_at:
        return []
    session.execute(update(Request).where(col(Request.id) == request.id).values(late=True))
    audit.record(session, actor="system", action="flagged_late", request_id=request.id)
    return [messages.ops_alert(session, settings, request, "late_reply")]
