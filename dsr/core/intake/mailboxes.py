"""Limits per mailbox, across every request: e-mails, wrong codes, "this was not me".

An address with ``+tags`` (or Gmail dots) is one mailbox (dsr/mailbox.py), so a filer cannot
multiply a mailbox's allowance by varying how they write it. Three guards, all in the ledger
(``mailbox_events``, keyed hashes of the folded address, never the address):

- **E-mails**: a filing at the privacy center (where anyone may name any address) writes an
  acknowledgement and a code to the address; at most ``DSR_MAILBOX_DAILY_LIMIT`` such e-mails a
  mailbox in 24 h. A filing that would pass it is refused whole (nothing written), so a mail
  bomb stops at the cap. Staff filings are not counted: a key is needed, and its use is audited.
- **"This was not me"**: every acknowledgement and code e-mail carries a signed link
  (dsr/core/replies/not_me_links.py); its owner following it stops e-mails from new unvouched
  filings for :data:`NOT_ME_DAYS` days, and ops get an alert.
- **Wrong codes**: ``DSR_CODE_FAILURE_LIMIT`` wrong codes for one mailbox in 24 h, over any number
  of requests, and codes for it are refused for 24 h from then; ops get an alert. A request's
  own limit (``DSR_VERIFICATION_MAX_ATTEMPTS``) still applies within it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from config.settings import Settings
from dsr.core.ledger import audit
from dsr.core.ledger.models import MailboxEvent, Request, RequestStatus, utcnow
from dsr.core.replies import alerts
from dsr.core.runtime import steps
from dsr.errors import MailboxResting
from dsr.mailbox import fold

MAIL = "mail"
CODE_FAILURE = "code_failure"
LOCKOUT = "code_lockout"
NOT_ME = "not_me"
DAY = timedelta(days=1)
NOT_ME_DAYS = 30


def digests(settings: Settings, email: str) -> list[str]:
    """The mailbox's keyed hashes under every accepted privacy key (current one first)."""
    mailbox = fold(email).encode()
    current = settings.keys.privacy.current
    keys = [current, *(k for k in settings.keys.privacy.accepted() if k != current)]
    return [hmac.new(k, mailbox, hashlib.sha256).hexdigest() for k in keys]


def _count(session: Session, mailbox: list[str], kind: str, since: datetime) -> int:
    query = select(func.count()).where(
        col(MailboxEvent.mailbox).in_(mailbox),
        MailboxEvent.kind == kind,
        col(MailboxEvent.at) > since,
    )
    return int(session.exec(query).one())


def _latest(session: Session, mailbox: list[str], kind: str, since: datetime) -> datetime | None:
    query = select(func.max(MailboxEvent.at)).where(
        col(MailboxEvent.mailbox).in_(mailbox),
        MailboxEvent.kind == kind,
        col(MailboxEvent.at) > since,
    )
    found = session.exec(query).one()
    return found if isinstance(found, datetime) else None


def record(
    session: Session,
    settings: Settings,
    email: str,
    kind: str,
    *,
    request_id: str | None,
    times: int = 1,
    now: datetime | None = None,
) -> None:
    """``times`` events of ``kind`` for the mailbox of ``email``."""
    at = now or utcnow()
    mailbox = digests(settings, email)[0]
    for _ in range(times):
        session.add(MailboxEvent(mailbox=mailbox, kind=kind, at=at, request_id=request_id))
    session.flush()


def stopped(session: Session, settings: Settings, email: str, now: datetime | None = None) -> bool:
    """Whether the mailbox's owner said "this was not me" in the last :data:`NOT_ME_DAYS`."""
    since = (now or utcnow()) - timedelta(days=NOT_ME_DAYS)
    return _latest(session, digests(settings, email), NOT_ME, since) is not None


def allow_mails(
    session: Session,
    settings: Settings,
    email: str,
    count: int,
    *,
    capped: bool,
    stoppable: bool,
    request_id: str | None = None,
    now: datetime | None = None,
) -> None:
    """Count ``count`` e-mails to the mailbox of ``email`` (``capped``); MailboxResting (before
    anything is counted) when they would pass today's cap, or, ``stoppable``, its owner asked
    for none."""
    now = now or utcnow()
    mailbox = digests(settings, email)
    if stoppable and stopped(session, settings, email, now):
        raise MailboxResting("this mailbox asked not to receive requests' e-mails; ask support")
    if not capped:
        return
    if _count(session, mailbox, MAIL, now - DAY) + count > settings.mailbox_daily_limit:
        raise MailboxResting("too many e-mails to this mailbox today; try again tomorrow")
    record(session, settings, email, MAIL, request_id=request_id, times=count, now=now)


def code_attempts_left(
    session: Session, settings: Settings, email: str, now: datetime | None = None
) -> int:
    """Wrong codes the mailbox may still have today (0: codes are refused for now)."""
    now = now or utcnow()
    mailbox = digests(settings, email)
    locked = _latest(session, mailbox, LOCKOUT, now - DAY)
    if locked is not None:
        return 0
    return max(0, settings.code_failure_limit - _count(session, mailbox, CODE_FAILURE, now - DAY))


def code_failed(
    session: Session, settings: Settings, request: Request, now: datetime | None = None
) -> list[steps.Step]:
    """Count a wrong code against the request's mailbox; at the cap, lock codes out for 24 h
    and alert ops (the steps send the alert's e-mail)."""
    now = now or utcnow()
    record(session, settings, request.email, CODE_FAILURE, request_id=request.id, now=now)
    if code_attempts_left(session, settings, request.email, now) > 0:
        return []
    record(session, settings, request.email, LOCKOUT, request_id=request.id, now=now)
    return alerts.raise_alert(
        session,
        settings,
        reason="code_guessing",
        request=request,
        occasion=now.date().isoformat(),
        failures=settings.code_failure_limit,
    )


def not_me(session: Session, settings: Settings, request: Request) -> list[steps.Step]:
    """The mailbox's owner did not file ``request``: no e-mails from unvouched filings for
    :data:`NOT_ME_DAYS` days, the request itself ends if it still waits for its code, and ops
    see an alert. Idempotent per request."""
    now = utcnow()
    if not stopped(session, settings, request.email, now):
        record(session, settings, request.email, NOT_ME, request_id=request.id, now=now)
    if request.status == RequestStatus.AWAITING_VERIFICATION:
        request.status = RequestStatus.CANCELED
        request.code_hash = None
        request.code_expires_at = None
        request.updated_at = now
        session.add(request)
        audit.record(
            session, actor="subject", action="canceled", request_id=request.id, reason="not_me"
        )
    return alerts.raise_alert(session, settings, reason="not_me", request=request)
