"""The reply outbox: every e-mail is a row (and a stored file) before it is sent.

A message exists once per (request, purpose). Its Message-ID is derived from that pair, so a
resend after a crash between SMTP acceptance and our commit carries the same Message-ID and
mail clients show it once. That window (the SMTP server said 250, our commit did not happen)
cannot be closed without a transactional mail server; it is kept to one UPDATE long.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from config.settings import Settings
from dsr.core.ledger import exports, paths, storage
from dsr.core.ledger.models import Outbox, OutboxStatus, utcnow

REPLY = "reply"
# CPython's header folder drops the space between two encoded words ("chỉnh sửa" arrives as
# "chỉnhsửa"); not folding Subject lines avoids it, at the cost of a long encoded word.
_WIRE = policy.default.clone(max_line_length=998)


def message_id(request_id: str, purpose: str, settings: Settings) -> str:
    domain = settings.mail_from.rpartition("@")[2] or "dsr.local"
    return f"<{request_id}.{purpose.replace(':', '-')}@{domain}>"


def find(session: Session, request_id: str, purpose: str) -> Outbox | None:
    return session.exec(
        select(Outbox).where(Outbox.request_id == request_id, Outbox.purpose == purpose)
    ).first()


def queue(
    session: Session,
    settings: Settings,
    *,
    request_id: str,
    purpose: str,
    recipient: str,
    message: EmailMessage,
    root: Path | None = None,
) -> Outbox:
    """Store a message for sending; the existing row if this purpose was already queued.
    ``root``: where its file goes (default: the export folder, beside the request's files)."""
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
    data = message.as_bytes(policy=_WIRE)
    if root is not None and not exports.is_remote(settings):
        path: Path | str = paths.message(root, request_id, purpose)
        storage.write_atomically(Path(path), data)
    else:  # the export store (a bucket any host reads), or the export folder
        path = exports.put_message(settings, exports.message_key(request_id, purpose), data)
    return record(
        session,
        request_id=request_id,
        purpose=purpose,
        recipient=recipient,
        message_id=mid,
        path=path,
    )


def record(
    session: Session,
    *,
    request_id: str,
    purpose: str,
    recipient: str,
    message_id: str,
    path: Path | str,
) -> Outbox:
    """The pending row for a message already written to ``path``; the existing row when a
    concurrent duplicate of the same step got there first."""
    row = Outbox(
        request_id=request_id,
        purpose=purpose,
        recipient=recipient,
        message_id=message_id,
        path=str(path),
        status=OutboxStatus.PENDING,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = find(session, request_id, purpose)
        assert found is not None
        return found
    return row
