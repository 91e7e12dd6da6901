"""The reply outbox: every e-mail is a row (and a file on disk) before it is sent.

A message exists once per (request, purpose). Its Message-ID is derived from that pair, so a
resend after a crash between SMTP acceptance and our commit carries the same Message-ID and
mail clients show it once. That window (the SMTP server said 250, our commit did not happen)
cannot be closed without a transactional mail server; it is kept to one UPDATE long.
"""

from __future__ import annotations

import os
from email import policy
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from config.settings import Settings
from dsr import audit, mailer, steps
from dsr.db import changed
from dsr.models import Outbox, OutboxStatus, Request, RequestStatus, utcnow

REPLY = "reply"
# CPython's header folder drops the space between two encoded words ("chỉnh sửa" arrives as
# "chỉnhsửa"); not folding Subject lines avoids it, at the cost of a long encoded word.
_WIRE = policy.default.clone(max_line_length=998)


def message_id(request_id: str, purpose: str, settings: Settings) -> str:
    domain = settings.mail_from.rpartition("@")[2] or "dsr.local"
    return f"<{request_id}.{purpose.replace(':', '-')}@{domain}>"


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def find(session: Session, request_id: str, purpose: str) -> Outbox | None:
    return session.exec(select(Outbox).where(
        Outbox.request_id == request_id, Outbox.purpose == purpose)).first()


def queue(session: Session, settings: Settings, *, request_id: str, purpose: str,
          recipient: str, message: EmailMessage) -> Outbox:
    """Store a message for sending; the existing row if this purpose was already queued."""
    existing = find(session, request_id, purpose)
    if existing is not None:
        return existing
    mid = message_id(request_id, purpose, settings)
    for header in ("Message-ID", "From", "To", "Date"):
        del message[header]
    message["Message-ID"] = mid
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    path = settings.resolved_export_dir / request_id / "outbox" / f"{purpose.replace(':', '-')}.eml"
    _write_atomically(path, message.as_bytes(policy=_WIRE))
    row = Outbox(request_id=request_id, purpose=purpose, recipient=recipient, message_id=mid,
                 path=str(path), status=OutboxStatus.PENDING, created_at=utcnow())
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent duplicate delivery of the same step got there first
        found = find(session, request_id, purpose)
        assert found is not None
        return found
    return row


def deliver(session: Session, settings: Settings, outbox_id: str) -> list[steps.Step]:
    """Send one pending message and record what followed; a sent message is never resent."""
    row = session.get(Outbox, outbox_id)
    if row is None or row.status == OutboxStatus.SENT:
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
    except Exception as err:
        session.execute(update(Outbox).where(col(Outbox.id) == row.id).values(
            attempts=Outbox.attempts + 1, last_error=str(err)[:500]))
        session.commit()
        raise
    now = utcnow()
    won = changed(session, update(Outbox).where(
        col(Outbox.id) == row.id, col(Outbox.status) == OutboxStatus.PENDING,
    ).values(status=OutboxStatus.SENT, sent_at=now, attempts=Outbox.attempts + 1))
    if not won:
        return []
    audit.record(session, actor="system", action=f"email_sent:{row.purpose}",
                 request_id=row.request_id, message_id=row.message_id)
    if request is not None:
        _after_sent(session, request, row.purpose)
    if row.purpose.startswith("verification"):
        Path(row.path).unlink(missing_ok=True)  # the code must not outlive its e-mail on disk
    return []


def _after_sent(session: Session, request: Request, purpose: str) -> None:
    now = utcnow()
    if purpose == "acknowledgement":
        session.execute(update(Request).where(col(Request.id) == request.id).values(
            acknowledged_at=now, updated_at=now))
    elif purpose == REPLY:
        done = changed(session, update(Request).where(
            col(Request.id) == request.id, col(Request.status) == RequestStatus.REPLYING,
        ).values(status=RequestStatus.COMPLETED, completed_at=now, updated_at=now))
        if done:
            audit.record(session, actor="system", action="completed", request_id=request.id)


def _flag_if_late(session: Session, settings: Settings, request: Request) -> list[steps.Step]:
    """A reply leaving after due_at is flagged for ops first (S7)."""
    if request.late or utcnow() <= request.due_at:
        return []
    from dsr import messages

    session.execute(update(Request).where(col(Request.id) == request.id).values(late=True))
    audit.record(session, actor="system", action="flagged_late", request_id=request.id)
    return [messages.ops_alert(session, settings, request, "late_reply")]
