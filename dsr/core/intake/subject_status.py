"""A request as its subject sees it on the status page: where it stands, never what was found.

The status link is a bearer credential, and before the one-time code comes back nobody has
proven anything, so the page shows only what is the same for every address: the phase, the
dates, how many stores are finished and when the reply left. Never records, counts of records,
candidates, identifiers (beyond the masked address it was filed for), file paths, errors or
the audit trail. ``needs_review`` and ``needs_attention`` both read as "with our staff" (a
person decides next), never which: telling the holder that records wait for a decision would
tell a stranger that a phone they typed is a customer's. The reply itself (an export, a
certificate) goes only to the verified address.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from dsr.core.identity.masking import mask_email
from dsr.core.intake.views import iso
from dsr.core.ledger.models import (
    TERMINAL_TASK,
    ConnectorTask,
    Outbox,
    OutboxStatus,
    Request,
    RequestKind,
    RequestStatus,
    utcnow,
)
from dsr.core.replies.outbox import REPLY


class Phase(StrEnum):
    AWAITING_CODE = "awaiting_code"  # the one-time code has not come back
    CODE_CLOSED = "code_closed"  # it expired or too many wrong tries: file again
    IN_PROGRESS = "in_progress"  # proven; the stores are being searched (or staff act)
    WITH_STAFF = "with_staff"  # a complaint waiting for its answer
    REPLYING = "replying"  # the reply is being prepared and sent
    COMPLETED = "completed"  # the reply (or the complaint's answer) was sent
    CLOSED = "closed"  # rejected or canceled


# Records waiting for a staff decision and a store that failed read alike ("with our staff"): the
# page says a person decides next without telling which (a stranger who typed a customer's
# phone must not learn that it matched).
_WITH_STAFF = (RequestStatus.NEEDS_REVIEW, RequestStatus.NEEDS_ATTENTION)
_WORKING = (
    RequestStatus.VERIFIED,
    RequestStatus.IN_PROGRESS,
    RequestStatus.NEEDS_ATTENTION,
    RequestStatus.NEEDS_REVIEW,
)


def phase(request: Request, *, max_attempts: int) -> Phase:
    """Where the request stands, in the subject's terms."""
    status = request.status
    if status == RequestStatus.COMPLETED:
        return Phase.COMPLETED
    if status in (RequestStatus.REJECTED, RequestStatus.CANCELED):
        return Phase.CLOSED
    if status == RequestStatus.REPLYING:
        return Phase.REPLYING
    if request.kind == RequestKind.COMPLAINT:
        return Phase.WITH_STAFF  # no code: a complaint goes straight to the staff queue
    if request.verified_email is None and request.verified_by is None:
        return Phase.AWAITING_CODE if code_open(request, max_attempts) else Phase.CODE_CLOSED
    if status in _WITH_STAFF:
        return Phase.WITH_STAFF
    return Phase.IN_PROGRESS if status in _WORKING else Phase.REPLYING


def code_open(request: Request, max_attempts: int) -> bool:
    """Whether a code may still be tried (not expired, attempts left); a request stuck before
    its code went out still waits for it."""
    if request.status == RequestStatus.RECEIVED:
        return True
    if request.status not in (RequestStatus.AWAITING_VERIFICATION, RequestStatus.NEEDS_ATTENTION):
        return False
    expires = request.code_expires_at
    if expires is not None and utcnow() > expires:
        return False
    return request.code_attempts < max_attempts


def view(session: Session, request: Request, *, max_attempts: int) -> dict[str, Any]:
    """The status page's facts for ``request`` (see the module's docstring for what is left out)."""
    statuses = list(
        session.exec(select(ConnectorTask.status).where(ConnectorTask.request_id == request.id))
    )
    sent = session.exec(
        select(Outbox.sent_at).where(
            Outbox.request_id == request.id,
            Outbox.purpose == REPLY,
            col(Outbox.status) == OutboxStatus.SENT,
        )
    ).first()
    now_phase = phase(request, max_attempts=max_attempts)
    return {
        "id": request.id,
        "kind": request.kind,
        "phase": now_phase,
        "language": request.language,
        "email": mask_email(request.email),
        "received_at": iso(request.received_at),
        "due_at": iso(request.due_at),
        "completed_at": iso(request.completed_at),
        "reply_sent_at": iso(sent),
        "stores": {
            "total": len(statuses),
            "finished": sum(1 for s in statuses if s in TERMINAL_TASK),
        },
        "code_open": now_phase == Phase.AWAITING_CODE,
        "attempts_left": max(0, max_attempts - request.code_attempts),
        "delivered_as": _delivered_as(session, request) if now_phase == Phase.COMPLETED else None,
    }


def _delivered_as(session: Session, request: Request) -> str | None:
    """How an access reply carried the data: ``attachment`` or ``link`` (None: not an access
    reply, or its message is no longer on disk)."""
    if request.kind != RequestKind.ACCESS:
        return None
    path = session.exec(
        select(Outbox.path).where(Outbox.request_id == request.id, Outbox.purpose == REPLY)
    ).first()
    try:
        with open(path or "", "rb") as message:
            for line in message:  # the attachment's part comes after the text: stop there
                if line.lower().startswith(b"content-disposition: attachment"):
                    return "attachment"
    except OSError:
        return None
    return "link"
