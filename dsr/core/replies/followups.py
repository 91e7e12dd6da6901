"""Deferred records a later sweep erased: the partners' notices, then the subject's follow-up.

An erasure that had to keep a record still needed (an open order) told no partner of it and its
certificate said it was deferred. When the retention sweep erases that record later
(``dsr.core.identity.deferrals.complete``), the partners that received it get the notice the
erasure would have sent, and once every one went (or could not, and ops were alerted) the
subject gets one follow-up message listing what was erased now and who was told.

The batch (an ``ErasureFollowUp`` row) is written in the ledger transaction that marks the
records done, which only one sweep wins: a sweep run again finds nothing left to do, and every
message is an outbox row unique per (request, purpose), so a redelivered step sends nothing
twice. Pending rows are re-driven like any other e-mail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from config.settings import Settings
from connectors.base import TaskResult
from dsr.core.ledger import audit
from dsr.core.ledger.models import (
    ErasureFollowUp,
    NoticeStatus,
    Outbox,
    OutboxStatus,
    Request,
    utcnow,
)
from dsr.core.replies import alerts, export_notes, messages, notices, outbox, templates
from dsr.core.runtime import steps
from dsr.core.runtime.process import Runtime

NOTICE = notices.DEFERRED_PREFIX  # "deferred:<recipient>:<batch>"
FOLLOW_UP = "deferred-erased:"  # "deferred-erased:<batch>", to the subject


def record(
    session: Session,
    rt: Runtime,
    request_id: str,
    connector: str,
    result: TaskResult,
    tables: Sequence[str],
    *,
    now: datetime | None = None,
) -> list[steps.Step]:
    """A sweep just erased deferred records of a request (``tables``: one per record): queue
    each partner's notice, or the follow-up at once when no partner is to be told."""
    now = now or utcnow()
    request = session.get(Request, request_id)
    if request is None:
        return []
    actions = {o.table: o.action.value for o in result.outcomes}
    labels = dict(getattr(rt.connectors.get(connector), "labels", {}) or {"en": connector})
    notes = export_notes.for_store(rt.connectors.get(connector), {})
    erased = [
        {
            "table": table,
            "titles": dict(notes[table].title) if table in notes else {},
            "action": actions.get(table, "erased"),
            "count": count,
            "labels": labels,
        }
        for table, count in sorted(Counter(tables).items())
    ]
    batch = ErasureFollowUp(
        request_id=request_id, connector=connector, erased=erased, notices=[], created_at=now
    )
    session.add(batch)
    session.flush()  # its id numbers the messages
    assert batch.id is not None
    store = templates.StoreReport(
        connector=connector,
        labels={},
        status="done",
        result={"shared": [s.to_json() for s in result.shared]},
        recipients=[],
        staging=None,
    )
    follow: list[steps.Step] = []
    told: list[dict[str, Any]] = []
    for planned in notices.plan(rt.recipients, [store]):
        r = planned.recipient
        # Only the message's content: the erasure's own notice row stays as it was.
        row = notices.draft(request, planned, now)
        if row.status == NoticeStatus.NOT_NEEDED:
            continue  # it received none of them, or need not hear of an erasure
        entry: dict[str, Any] = {
            "recipient": r.id,
            "name": r.name,
            "records": sum(len(x["references"]) for x in planned.records),
            "outbox_id": None,
        }
        if row.status == NoticeStatus.NO_CONTACT:
            follow += _alert(
                session, rt.settings, request, r.id, batch.id, "deferred_notice_no_contact"
            )
        else:
            # The request's deadline, which bounds an erasure's reply-by, is long past here: the
            # partner gets its usual time from now.
            row.reply_by = now + timedelta(days=r.reply_within_days)
            message = notices.queue_message(
                session, rt.settings, request, row, r, key=f"{NOTICE}{r.id}:{batch.id}"
            )
            entry["outbox_id"] = message.id
            follow.append(steps.deliver(message.id))
        told.append(entry)
    batch.notices = told
    session.add(batch)
    audit.record(
        session,
        actor="scheduler",
        action="deferred_erasure_notices",
        request_id=request_id,
        connector=connector,
        batch=batch.id,
        recipients=sorted(t["recipient"] for t in told),
    )
    return follow + _follow_up_when_told(session, rt.settings, request, batch)


def _batch_of(purpose: str, prefix: str) -> int | None:
    tail = purpose.removeprefix(prefix).rpartition(":")[2]
    return int(tail) if purpose.startswith(prefix) and tail.isdigit() else None


def after_sent(session: Session, settings: Settings, row: Outbox) -> list[steps.Step]:
    """A deferred notice went: the follow-up if it was the batch's last."""
    return _settle(session, settings, row)


def refused(
    session: Session, settings: Settings, row: Outbox, error: str
) -> list[steps.Step] | None:
    """A deferred notice refused for good: ops are alerted and the follow-up is not held for
    it (it says that partner could not be told yet). None: not a deferred notice."""
    batch = _batch_of(row.purpose, NOTICE)
    if batch is None or row.request_id is None:
        return None
    session.execute(
        update(Outbox).where(col(Outbox.id) == row.id).values(status=OutboxStatus.FAILED)
    )
    request = session.get(Request, row.request_id)
    if request is None:
        return []
    recipient = notices.recipient_of(row.purpose)
    audit.record(
        session,
        actor="system",
        action="deferred_notice_refused",
        request_id=request.id,
        recipient=recipient,
        error=error[:500],
    )
    return _alert(session, settings, request, recipient, batch, "deferred_notice_failed") + (
        _settle(session, settings, row)
    )


def _settle(session: Session, settings: Settings, row: Outbox) -> list[steps.Step]:
    number = _batch_of(row.purpose, NOTICE)
    if number is None or row.request_id is None:
        return []
    batch = session.get(ErasureFollowUp, number)
    request = session.get(Request, row.request_id)
    if batch is None or request is None:
        return []
    return _follow_up_when_told(session, settings, request, batch)


def _alert(
    session: Session, settings: Settings, request: Request, recipient: str, batch: int, reason: str
) -> list[steps.Step]:
    return alerts.raise_alert(
        session, settings, reason=reason, request=request, occasion=f"{recipient}-{batch}",
        recipient=recipient, batch=batch,
    )  # fmt: skip


def _follow_up_when_told(
    session: Session, settings: Settings, request: Request, batch: ErasureFollowUp
) -> list[steps.Step]:
    """Queue the subject's follow-up once no notice of the batch is still pending (once: the
    outbox row is unique per purpose, and every sent notice of the batch was committed before
    the last one's sending is recorded, so the last one sees them all)."""
    if batch.outbox_id is not None:
        return []  # queued before (a redelivered notice): its own step sends it
    ids = [n["outbox_id"] for n in batch.notices if n.get("outbox_id")]
    rows = (
        {r.id: r for r in session.exec(select(Outbox).where(col(Outbox.id).in_(ids)))}
        if ids
        else {}
    )
    if any(r.status == OutboxStatus.PENDING for r in rows.values()):
        return []
    if request.verified_email is None:
        return []  # never verified: there is no address to write to
    told = []
    for n in batch.notices:
        sent = rows.get(n.get("outbox_id") or "")
        status = "sent" if sent is not None and sent.status == OutboxStatus.SENT else "failed"
        told.append(
            templates.NoticeView(
                name=str(n["name"]),
                status=status,
                sent_at=sent.sent_at if sent is not None else None,
                reason=None,
                records=int(n["records"]),
            )
        )
    ctx = messages.context(request, settings)
    message = templates.render_follow_up(ctx, list(batch.erased), told)
    row = outbox.queue(
        session,
        settings,
        request_id=request.id,
        purpose=f"{FOLLOW_UP}{batch.id}",
        recipient=request.verified_email,
        message=message,
    )
    batch.outbox_id = row.id
    session.add(batch)
    return [steps.deliver(row.id)]
