"""Legal holds (S6): a held subject's erasure is deferred and sweeps skip their records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from dsr.core.ledger import audit
from dsr.core.ledger.models import Hold, utcnow
from dsr.errors import InvalidInput, NotFound
from dsr.identity import EMAIL, PHONE, Identity, check_input, normalise_email, normalise_phone


def add(
    session: Session,
    *,
    email: str | None,
    phone: str | None,
    reason: str,
    by: str,
    until: datetime | None = None,
    connectors: list[str] | None = None,
    region: str = "VN",
) -> Hold:
    """Place a hold on a subject (by email and/or phone), optionally on some stores only."""
    if not email and not phone:
        raise InvalidInput("a hold needs an email or a phone", "email", "phone")
    if not reason.strip():
        raise InvalidInput("a hold needs a reason", "reason")
    check_input(reason, "the reason")  # one line, no controls or U+2028/U+2029
    now = utcnow()
    if until is not None and until <= now:
        raise InvalidInput("until must be in the future", "until")
    hold = Hold(
        email=normalise_email(email) if email else None,
        phone=normalise_phone(phone, region) if phone else None,
        connectors=connectors or None,
        reason=reason.strip(),
        until=until,
        created_by=by,
        created_at=now,
    )
    session.add(hold)
    session.flush()
    audit.record(
        session, actor=by, action="hold_added", hold_id=hold.id, connectors=connectors or "all"
    )
    return hold


def lift(session: Session, hold_id: str, *, by: str) -> Hold:
    hold = session.get(Hold, hold_id)
    if hold is None:
        raise NotFound(f"no hold {hold_id}")
    if hold.lifted_at is None:
        hold.lifted_at = utcnow()
        session.add(hold)
        audit.record(session, actor=by, action="hold_lifted", hold_id=hold.id)
    return hold


def active(session: Session, now: datetime | None = None) -> list[Hold]:
    now = now or utcnow()
    return list(
        session.exec(
            select(Hold).where(
                col(Hold.lifted_at).is_(None),
                or_(col(Hold.until).is_(None), col(Hold.until) > now),
            )
        )
    )


def matching(
    session: Session, identity: Identity, connector: str, now: datetime | None = None
) -> Hold | None:
    """The active hold covering this subject in this store, if any."""
    emails, phones = identity.get(EMAIL), identity.get(PHONE)
    for hold in active(session, now):
        if hold.connectors and connector not in hold.connectors:
            continue
        if (hold.email and hold.email in emails) or (hold.phone and hold.phone in phones):
            return hold
    return None


def held_identity(session: Session, connector: str, now: datetime | None = None) -> Identity:
    """Every identifier under an active hold for this store (sweeps skip them)."""
    held = Identity()
    for hold in active(session, now):
        if hold.connectors and connector not in hold.connectors:
            continue
        held.add(EMAIL, [hold.email])
        held.add(PHONE, [hold.phone])
    return held
