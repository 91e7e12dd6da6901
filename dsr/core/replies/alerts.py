"""Alerts to ops: a row in the ledger first, an error log event, then an e-mail if it can be.

The path must not need the part that failed. The ledger row and the log line need neither the
SMTP server nor the export disk; the metric (``dsr_alerts`` in dsr/service/metrics.py) is read
from the rows. The e-mail to ops is queued in a savepoint: when the disk is full it is skipped
(the row says ``emailed`` False) and the watchdog queues it later.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from config.settings import Settings
from dsr.core.ledger.models import Alert, Request, utcnow
from dsr.core.replies import messages, templates
from dsr.core.runtime import steps

log = structlog.get_logger(__name__)


def raise_alert(
    session: Session,
    settings: Settings,
    *,
    reason: str,
    request: Request | None = None,
    occasion: str | None = None,
    stores: list[templates.StoreReport] | None = None,
    email: bool = True,
    **detail: Any,
) -> list[steps.Step]:
    """Record an alert once per (request, reason, occasion); the steps that send its e-mail.

    ``detail`` holds ids, codes and counts only (it is logged and stored).
    """
    key = f"{request.id if request else '-'}:{reason}:{occasion or ''}"[:200]
    if session.exec(select(Alert.id).where(Alert.key == key)).first() is not None:
        return []  # raised already (a redelivered message, a second watchdog pass)
    row = Alert(
        key=key,
        request_id=request.id if request else None,
        reason=reason,
        detail={
            **detail,
            **({"occasion": occasion} if occasion else {}),
            **({} if email else {"email": False}),
        },
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return []  # a concurrent duplicate got there first
    log.error("ops_alert", reason=reason, request_id=row.request_id, occasion=occasion, **detail)
    if not email or request is None:
        return []
    return _email(session, settings, row, request, stores)


def _email(
    session: Session,
    settings: Settings,
    row: Alert,
    request: Request,
    stores: list[templates.StoreReport] | None,
) -> list[steps.Step]:
    occasion = row.detail.get("occasion")
    try:
        with session.begin_nested():
            step = messages.ops_alert(
                session, settings, request, row.reason, stores, occasion=occasion
            )
            row.emailed = True
            session.add(row)
    except OSError as err:  # the export disk (where e-mails are written) is full or gone
        log.warning("ops_alert_email_deferred", alert_id=row.id, error=type(err).__name__)
        return []
    return [step]


def unemailed(session: Session, settings: Settings) -> list[steps.Step]:
    """Queue the e-mails of alerts that could not be written when they were raised."""
    out: list[steps.Step] = []
    rows = session.exec(
        select(Alert).where(col(Alert.emailed).is_(False), col(Alert.request_id).is_not(None))
    ).all()
    for row in rows:
        if row.detail.get("email") is False:
            continue  # the alert is about the ops mailbox itself
        request = session.get(Request, row.request_id)
        if request is not None:
            out += _email(session, settings, row, request, None)
    return out


def of_request(session: Session, request_id: str) -> list[Alert]:
    return list(
        session.exec(
            select(Alert).where(Alert.request_id == request_id).order_by(col(Alert.created_at))
        )
    )
