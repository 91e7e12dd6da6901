"""Proof of right (S4): nothing is searched until the subject proves control of the address.

The one-time code is stored only as a keyed hash, expires, and allows a few attempts. Replies go
to ``verified_email``, which is only ever set from the address the code was sent to.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from dsr.core.identity import identifiers
from dsr.core.intake import mailboxes
from dsr.core.ledger import audit
from dsr.core.ledger.db import changed
from dsr.core.ledger.models import Provenance, Request, RequestStatus, load_request, utcnow
from dsr.core.replies import messages
from dsr.core.runtime import deadlines, steps
from dsr.core.runtime.process import Runtime
from dsr.errors import InvalidInput, StateConflict
from dsr.identity import EMAIL


def typed_code(code: str) -> str:
    """The code as people type or read it out: spaces and dashes ("873 665", "873-665") dropped."""
    # Pd: every Unicode dash (a phone keyboard or a word processor may give an en dash).
    return "".join(ch for ch in code if not ch.isspace() and unicodedata.category(ch) != "Pd")


def _code_hash(key: bytes, request_id: str, code: str) -> str:
    return hmac.new(key, f"{request_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _code_matches(rt: Runtime, request: Request, code: str) -> bool:
    # Any accepted code key: a code sent just before a key rotation still works in its grace.
    expected = request.code_hash or ""
    return any(
        hmac.compare_digest(expected, _code_hash(key, request.id, code))
        for key in rt.settings.keys.codes.accepted()
    )


def acknowledge(session: Session, rt: Runtime, request: Request) -> steps.Step:
    parties = rt.recipients.parties(request.kind, request.changes or {}, rt.connectors)
    return messages.acknowledgement(
        session, rt.settings, request, third_parties=[r.name for r in parties]
    )


def send_code(
    session: Session, rt: Runtime, request: Request, *, now: datetime | None = None
) -> list[steps.Step]:
    """Issue a fresh code to the address on file; the request waits for it."""
    now = now or utcnow()
    code = f"{secrets.randbelow(10**6):06d}"
    request.status = RequestStatus.AWAITING_VERIFICATION
    request.code_hash = _code_hash(rt.settings.keys.codes.current, request.id, code)
    request.code_expires_at = now + timedelta(seconds=rt.settings.verification_ttl_seconds)
    request.code_attempts = 0
    request.updated_at = now
    session.add(request)
    audit.record(session, actor="system", action="verification_sent", request_id=request.id)
    return [messages.verification_code(session, rt.settings, request, code, attempt=1)]


def mark_verified(session: Session, request: Request, *, by: str) -> None:
    """Staff vouch for the subject; the audit log records who (intake dispatches at once)."""
    now = utcnow()
    request.status = RequestStatus.VERIFIED
    request.verified_email = request.email
    request.verified_by = by
    request.updated_at = now
    session.add(request)
    identifiers.vouch_all(session, request.id, source=f"staff:{by}")
    audit.record(session, actor=by, action="verified_by_staff", request_id=request.id)


@dataclass(frozen=True)
class Verdict:
    """A code's outcome: the steps that follow, or why it was refused.

    A refusal is a value, not an exception, so the caller commits the counted attempt before
    it tells the subject the code was wrong.
    """

    follow: list[steps.Step]
    refused: str | None = None


def attempts_left(session: Session, rt: Runtime, request: Request) -> int:
    """Codes the subject may still try on ``request``: its own limit, and its mailbox's today."""
    own = max(0, rt.settings.verification_max_attempts - request.code_attempts)
    return min(own, mailboxes.code_attempts_left(session, rt.settings, request.email))


def verify(session: Session, rt: Runtime, request_id: str, code: str) -> Verdict:
    """Check the subject's code; on success the request continues to dispatch."""
    request = load_request(session, request_id)
    if request.status != RequestStatus.AWAITING_VERIFICATION:
        raise StateConflict(f"request {request_id} is {request.status}, not awaiting verification")
    now = utcnow()
    if request.code_expires_at is None or now > request.code_expires_at:
        raise InvalidInput("the verification code has expired")
    if request.code_attempts >= rt.settings.verification_max_attempts:
        raise InvalidInput("too many wrong codes; the request must be filed again")
    if mailboxes.code_attempts_left(session, rt.settings, request.email, now) == 0:
        raise InvalidInput("too many wrong codes for this mailbox today; try again in 24 hours")
    if not _code_matches(rt, request, typed_code(code)):
        session.execute(
            update(Request)
            .where(col(Request.id) == request.id)
            .values(code_attempts=Request.code_attempts + 1)
        )
        audit.record(session, actor="subject", action="verification_failed", request_id=request.id)
        alert = mailboxes.code_failed(session, rt.settings, request, now)
        return Verdict(alert, refused="wrong verification code")
    # The reply's clock starts now that the subject is known (GDPR Art. 12(6); an unverified
    # request is never overdue): the period runs from verification, never ends before the one
    # counted from receipt.
    parties = rt.recipients.parties(request.kind, request.changes or {}, rt.connectors)
    due = deadlines.compute(
        request.kind, request.jurisdiction, now, rt.profiles, third_party=bool(parties)
    ).due_at
    won = changed(
        session,
        update(Request)
        .where(
            col(Request.id) == request.id,
            col(Request.status) == RequestStatus.AWAITING_VERIFICATION,
        )
        .values(
            status=RequestStatus.VERIFIED,
            due_at=max(due, request.due_at),
            verified_email=request.email,
            code_hash=None,
            code_expires_at=None,
            updated_at=now,
        ),
    )
    if not won:
        raise StateConflict(f"request {request_id} was verified concurrently")
    # The code proves control of the address it went to, and nothing else on the request.
    identifiers.add(
        session,
        rt.settings.keys.suppression,
        request.id,
        [(EMAIL, request.email)],
        Provenance.VERIFIED,
        "code",
    )
    audit.record(session, actor="subject", action="verified", request_id=request.id)
    return Verdict([steps.dispatch(request.id)])
