"""Notices to the third parties that received a subject's data (GDPR art. 19, Decree 356).

After a rectify or an erase applied in the stores, every recipient that received a changed
record gets one notice through the outbox: what changed, the references it knows the records by
(order numbers), the new values of the fields it holds (rectify) and a date to confirm by, never
more personal data than it already holds. Notices go first: the subject's reply is built only
once every notice has been sent, so it states who was told and on which day. A recipient that
cannot be reached (no address configured, or its server refused the notice for good) puts the
request in ``needs_attention`` for ops; no reply claims a notice that was not sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from config.settings import Settings
from dsr.core.ledger import audit
from dsr.core.ledger.db import changed
from dsr.core.ledger.models import (
    Notice,
    NoticeStatus,
    Outbox,
    OutboxStatus,
    Request,
    RequestStatus,
    TaskStatus,
    utcnow,
)
from dsr.core.replies import messages, outbox, templates, webhook
from dsr.core.replies.templates import NoticeView, StoreReport
from dsr.core.runtime import steps
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.recipients import NOTIFIED_KINDS, Recipient, RecipientBook
from dsr.errors import DeliveryRefused

PREFIX = "notice:"
# A notice of records a later sweep erased (dsr/core/replies/followups.py): "deferred:<id>:<n>".
DEFERRED_PREFIX = "deferred:"
NO_RECORDS = "no_records"  # it received none of the records that changed
NOT_REQUIRED = "not_required"  # configured not to hear of this kind of request
_STUCK = (NoticeStatus.FAILED, NoticeStatus.NO_CONTACT)  # ops must act


def purpose(recipient: str, attempt: int) -> str:
    """The outbox purpose of a notice: one message per recipient and attempt."""
    return f"{PREFIX}{recipient}:{attempt}"


def is_notice(purpose: str) -> bool:
    return purpose.startswith(PREFIX)


def recipient_of(purpose: str) -> str:
    """The recipient id in a notice's outbox purpose (an erasure's, or a deferred one's)."""
    return purpose.removeprefix(PREFIX).removeprefix(DEFERRED_PREFIX).rpartition(":")[0]


@dataclass
class Planned:
    """What one recipient must be told: the changed records it received, and their fields."""

    recipient: Recipient
    records: list[dict[str, Any]] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)

    def add(self, connector: str, shared: dict[str, Any]) -> None:
        self.records.append(
            {
                "connector": connector,
                "table": str(shared.get("table", "")),
                "action": str(shared.get("action", "")),
                "references": [str(r) for r in shared.get("references") or []],
                "labels": dict(shared.get("labels") or {}),
            }
        )
        self.fields.update(shared.get("fields") or [])


def plan(book: RecipientBook, reports: list[StoreReport]) -> list[Planned]:
    """Every recipient of the request's stores, with the changed records it received."""
    planned: dict[str, Planned] = {}
    for report in reports:
        listed = book.of_store(report.connector)
        for r in listed:
            planned.setdefault(r.id, Planned(r))
        if report.status != TaskStatus.DONE:
            continue
        for shared in (report.result or {}).get("shared") or []:
            to = shared.get("recipient")
            for r in listed if to is None else [book.resolve(str(to))]:
                planned.setdefault(r.id, Planned(r)).add(report.connector, shared)
    return list(planned.values())


def _decide(p: Planned, kind: str) -> tuple[NoticeStatus, str | None]:
    if not p.records:
        return NoticeStatus.NOT_NEEDED, NO_RECORDS
    if kind not in p.recipient.kinds:
        return NoticeStatus.NOT_NEEDED, NOT_REQUIRED
    if p.recipient.channel is None:
        return NoticeStatus.NO_CONTACT, None
    return NoticeStatus.PENDING, None


def _reply_by(request: Request, r: Recipient, now: datetime) -> datetime:
    return min(now + timedelta(days=r.reply_within_days), request.due_at)


def _apply(row: Notice, p: Planned, request: Request, now: datetime) -> None:
    """Fill a notice row from the plan and today's configuration of its recipient."""
    status, reason = _decide(p, request.kind)
    row.name = p.recipient.name
    row.channel = p.recipient.channel
    row.address = p.recipient.address
    row.status, row.reason = status, reason
    row.records = p.records
    row.fields = sorted(p.fields)
    row.reply_by = _reply_by(request, p.recipient, now) if status == NoticeStatus.PENDING else None
    row.outbox_id, row.error, row.updated_at = None, None, now


def of_request(session: Session, request_id: str) -> list[Notice]:
    return list(
        session.exec(
            select(Notice).where(Notice.request_id == request_id).order_by(col(Notice.name))
        )
    )


def _find(session: Session, request_id: str, recipient: str) -> Notice | None:
    return session.exec(
        select(Notice).where(Notice.request_id == request_id, Notice.recipient == recipient)
    ).first()


def draft(request: Request, p: Planned, now: datetime) -> Notice:
    """The notice row ``p`` plans for ``request``, decided and filled, not yet added."""
    row = Notice(
        request_id=request.id, recipient=p.recipient.id, name="", status="", created_at=now
    )
    _apply(row, p, request, now)
    return row


def _create(session: Session, request: Request, p: Planned, now: datetime) -> Notice:
    row = draft(request, p, now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a duplicate delivery of the same step created it first
        found = _find(session, request.id, p.recipient.id)
        assert found is not None
        return found
    audit.record(
        session,
        actor="system",
        action=f"notice_{row.status}",
        request_id=request.id,
        recipient=row.recipient,
        references=sum(len(r["references"]) for r in row.records),
    )
    return row


@dataclass
class Settled:
    """What aggregation does next: ``notices`` is None while any is unsent or stuck."""

    steps: list[steps.Step]
    notices: list[Notice] | None


def settle(
    session: Session,
    rt: Runtime,
    request: Request,
    reports: list[StoreReport],
    *,
    now: datetime | None = None,
) -> Settled:
    """Queue each recipient's notice once; the notices once all went, or the steps to wait on.

    A notice stuck (no contact, refused) when the request is replying again means ops re-drove
    it after fixing the configuration: it is tried again, as a new message.
    """
    if request.kind not in NOTIFIED_KINDS:
        return Settled([], [])
    now = now or utcnow()
    rows = {n.recipient: n for n in of_request(session, request.id)}
    follow: list[steps.Step] = []
    for p in plan(rt.recipients, reports):
        row = rows.get(p.recipient.id)
        if row is None:
            row = rows[p.recipient.id] = _create(session, request, p, now)
        elif row.status in _STUCK:
            attempt = row.attempt + 1
            _apply(row, p, request, now)
            row.attempt = attempt
            session.add(row)
            audit.record(
                session,
                actor="system",
                action="notice_retried",
                request_id=request.id,
                recipient=row.recipient,
                attempt=attempt,
            )
        if row.status == NoticeStatus.PENDING and row.outbox_id is None:
            message = queue_message(session, rt.settings, request, row, p.recipient)
            row.outbox_id = message.id
            session.add(row)
            follow.append(steps.deliver(message.id))
    session.flush()
    notices = sorted(rows.values(), key=lambda n: n.name)
    stuck = [n for n in notices if n.status in _STUCK]
    if stuck:
        return Settled(follow + _attention(session, rt.settings, request, stuck), None)
    if any(n.status == NoticeStatus.PENDING for n in notices):
        return Settled(follow, None)
    return Settled(follow, notices)


def _content(request: Request, row: Notice, lang: str) -> dict[str, Any]:
    default = {"vi": "Mã tham chiếu", "en": "Reference"}[lang]
    records = [
        {
            "label": r["labels"].get(lang) or default,
            "action": r["action"],
            "references": r["references"],
        }
        for r in row.records
    ]
    changes = dict(request.changes or {}) if request.kind == "rectify" else {}
    return {
        "recipient": row.name,
        "records": records,
        "fields": list(row.fields),
        # Only what the recipient received, at its new value: nothing else about the subject.
        "new_values": {f: changes[f] for f in row.fields if f in changes},
        "reply_by": row.reply_by,
    }


def queue_message(
    session: Session,
    settings: Settings,
    request: Request,
    row: Notice,
    r: Recipient,
    *,
    key: str | None = None,
) -> Outbox:
    """Write the notice ``row`` describes to its recipient, by e-mail or webhook, as the
    outbox purpose ``key`` (default: the erasure's own notice, by recipient and attempt)."""
    key = key or purpose(row.recipient, row.attempt)
    assert row.address is not None
    values = _content(request, row, r.language)
    if r.channel == "webhook":
        body = {
            "type": f"dsr.notice.{request.kind}",
            "request_id": request.id,
            "recipient": row.recipient,
            "company": settings.company_name,
            "reply_to": settings.mail_from,
            "records": [
                {"table": x["table"], "action": x["action"], "references": x["references"]}
                for x in row.records
            ],
            "new_values": values["new_values"],
            "reply_by": row.reply_by.isoformat() if row.reply_by else None,
            "created_at": utcnow().isoformat(),
        }
        return webhook.queue(
            session, settings, request_id=request.id, purpose=key, url=row.address, body=body
        )
    ctx = messages.context(request, settings)
    ctx.language, ctx.changes, ctx.subject_name = r.language, {}, None  # never the subject's
    ctx.status_url = None  # the subject's status link is theirs alone
    message = templates.render_notice(ctx, **values)
    return outbox.queue(
        session,
        settings,
        request_id=request.id,
        purpose=key,
        recipient=row.address,
        message=message,
    )


def _attention(
    session: Session, settings: Settings, request: Request, stuck: list[Notice]
) -> list[steps.Step]:
    """The request waits for ops; one alert per stuck notice and attempt (ids only)."""
    now = utcnow()
    why = "; ".join(
        f"notice to {n.recipient}: "
        + (
            "no email or webhook configured"
            if n.status == NoticeStatus.NO_CONTACT
            else (n.error or "refused")
        )
        for n in stuck
    )
    if changed(
        session,
        update(Request)
        .where(col(Request.id) == request.id, col(Request.status) == RequestStatus.REPLYING)
        .values(status=RequestStatus.NEEDS_ATTENTION, attention=why[:500], updated_at=now),
    ):
        audit.record(
            session,
            actor="system",
            action="needs_attention",
            request_id=request.id,
            notices=sorted(n.recipient for n in stuck),
        )
    session.refresh(request)
    return [
        messages.ops_alert(
            session, settings, request, f"notice_{n.status}", occasion=f"{n.recipient}-{n.attempt}"
        )
        for n in stuck
    ]


def after_sent(session: Session, row: Outbox, now: datetime) -> list[steps.Step]:
    """A notice went out: record it, and let aggregation build the reply if it was the last."""
    if not is_notice(row.purpose) or row.request_id is None:
        return []
    session.execute(
        update(Notice)
        .where(col(Notice.outbox_id) == row.id, col(Notice.status) == NoticeStatus.PENDING)
        .values(status=NoticeStatus.SENT, sent_at=now, updated_at=now)
    )
    return [steps.aggregate(row.request_id)]


def refused(
    session: Session, settings: Settings, row: Outbox, err: Exception
) -> list[steps.Step] | None:
    """A notice refused for good is never re-sent: the request waits for ops (None: not ours)."""
    if not is_notice(row.purpose) or not isinstance(err, DeliveryRefused):
        return None
    now = utcnow()
    session.execute(
        update(Outbox).where(col(Outbox.id) == row.id).values(status=OutboxStatus.FAILED)
    )
    notice = session.exec(select(Notice).where(Notice.outbox_id == row.id)).first()
    request = session.get(Request, row.request_id) if row.request_id else None
    if notice is None or request is None:
        return []
    notice.status, notice.error, notice.updated_at = NoticeStatus.FAILED, str(err)[:500], now
    session.add(notice)
    audit.record(
        session,
        actor="system",
        action="notice_refused",
        request_id=request.id,
        recipient=notice.recipient,
        error=notice.error,
    )
    session.flush()
    return _attention(session, settings, request, [notice])


def views(notices: list[Notice]) -> list[NoticeView]:
    """The notices as the subject's reply lists them."""
    return [
        NoticeView(
            name=n.name,
            status=n.status,
            sent_at=n.sent_at,
            reason=n.reason,
            records=sum(len(r.get("references") or []) for r in n.records),
        )
        for n in notices
    ]
