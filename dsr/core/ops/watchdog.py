"""The deadline watchdog (S7), and the clean-up of what must not outlive its purpose.

``check`` queues reminder e-mails to ops for open requests: at each configured point before
``due_at`` (only the latest point passed, so a request filed late does not get two at once), an
escalation once ``due_at`` has passed, and one when the acknowledgement deadline passed with no
acknowledgement sent. Each (request, point) is one outbox row, unique in the ledger, so a
reminder is sent once however often the watchdog runs. Reminders carry ids and dates only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from config.settings import Settings
from dsr import objects
from dsr.core.ledger import audit, exports
from dsr.core.ledger.db import changed, session_scope
from dsr.core.ledger.models import (
    OPEN_REQUEST,
    Alert,
    Outbox,
    OutboxStatus,
    Request,
    RequestKind,
    RequestStatus,
    utcnow,
)
from dsr.core.ops.retention import load_policy
from dsr.core.replies import alerts, messages, outbox
from dsr.core.runtime import steps
from dsr.core.runtime.deadlines import RUNNING_CLOCK
from dsr.core.runtime.process import Runtime

_FINISHED = (RequestStatus.COMPLETED, RequestStatus.CANCELED, RequestStatus.REJECTED)


def due_points(request: Request, now: datetime, days: Sequence[int]) -> Iterator[tuple[str, str]]:
    """The (outbox purpose, template ``when``) reminders this request has reached at ``now``.

    An unverified request's reply clock has not started (``RUNNING_CLOCK``): only its
    acknowledgement can be late."""
    if request.status in RUNNING_CLOCK and now >= request.due_at:
        yield "reminder:overdue", "overdue"
    elif request.status in RUNNING_CLOCK:
        passed = [d for d in days if now >= request.due_at - timedelta(days=d)]
        if passed:
            yield f"reminder:due_{min(passed)}d", "due_soon"
    if request.ack_due_at and request.acknowledged_at is None and now >= request.ack_due_at:
        yield "reminder:ack_overdue", "ack_overdue"


def check(
    session: Session,
    rt: Runtime,
    now: datetime | None = None,
    *,
    reminder_days: Sequence[int] | None = None,
) -> list[steps.Step]:
    """Queue the reminders and escalations due at ``now``; deliver steps for new ones only."""
    now = now or utcnow()
    if reminder_days is None:
        reminder_days = load_policy(rt.settings.retention_file).reminder_days
    horizon = now + timedelta(days=max(reminder_days, default=0))
    query = (
        select(Request)
        .where(
            col(Request.status).in_(OPEN_REQUEST),
            or_(
                col(Request.due_at) <= horizon,
                and_(col(Request.ack_due_at) <= now, col(Request.acknowledged_at).is_(None)),
            ),
        )
        .order_by(col(Request.due_at))
    )
    out = stalled(session, rt, now) + alerts.unemailed(session, rt.settings)
    for request in list(session.exec(query)):
        for purpose, when in due_points(request, now, reminder_days):
            if outbox.find(session, request.id, purpose) is not None:
                continue  # queued by an earlier run; the outbox and re-drive see it sent
            out.append(messages.reminder(session, rt.settings, request, when, purpose=purpose))
            audit.record(
                session,
                actor="watchdog",
                action="deadline_reminder",
                request_id=request.id,
                point=purpose.removeprefix("reminder:"),
            )
    return out


def stalled(session: Session, rt: Runtime, now: datetime) -> list[steps.Step]:
    """Alert ops about each open request idle past ``stall_alert_seconds`` with no alert since
    it last moved (a lost message, a worker that cannot get on, a person who has not acted).

    A request waiting for the subject's code is the subject's turn, and a complaint waiting for
    its answer is in the staff queue: the deadline reminders cover both. One alert per request
    and status change (``occasion``).
    """
    limit = now - timedelta(seconds=rt.settings.stall_alert_seconds)
    alerted = (
        select(Alert.id)
        .where(
            col(Alert.request_id) == col(Request.id), col(Alert.created_at) >= Request.updated_at
        )
        .exists()
    )
    idle = session.exec(
        select(Request).where(
            col(Request.status).in_(OPEN_REQUEST),
            col(Request.status) != RequestStatus.AWAITING_VERIFICATION,
            col(Request.kind) != RequestKind.COMPLAINT,
            col(Request.updated_at) <= limit,
            ~alerted,
        )
    ).all()
    out: list[steps.Step] = []
    for request in idle:
        out += alerts.raise_alert(
            session,
            rt.settings,
            reason="stalled",
            request=request,
            occasion=f"{request.status}@{request.updated_at.isoformat()}",
            status=request.status,
            idle_seconds=int((now - request.updated_at).total_seconds()),
        )
    return out


def cleanup(rt: Runtime, now: datetime | None = None) -> dict[str, int]:
    """Delete export bundles, staged store files and sent e-mail copies past the link lifetime;
    forget stale codes and delete the e-mails that carried them.

    Our own copies of a subject's data must not outlive their purpose either: a sent reply's
    ``.eml`` may carry the whole bundle. The outbox row (Message-ID, sent_at) stays as record.
    """
    now = now or utcnow()
    cutoff = now - timedelta(seconds=rt.settings.download_link_ttl_seconds)
    # This host's folder (the default store; with a bucket, scratch a crash may have left) and
    # the bucket.
    stores: list[objects.ObjectStore] = [objects.LocalStore(rt.settings.resolved_export_dir)]
    if exports.is_remote(rt.settings):
        stores.append(exports.store(rt.settings))
    counts = {"bundles": 0, "staging": 0, "codes": 0, "messages": 0}
    with session_scope(rt.db_url) as session:
        finished = session.exec(
            select(Request.id).where(
                col(Request.status).in_(_FINISHED),
                or_(
                    col(Request.completed_at) < cutoff,
                    and_(col(Request.completed_at).is_(None), col(Request.updated_at) < cutoff),
                ),
            )
        ).all()
        for request_id in finished:
            for store in stores:
                counts["bundles"] += store.delete(exports.bundle_key(request_id))
                counts["staging"] += store.delete_prefix(exports.staging_root_key(request_id)) > 0
            counts["messages"] += _unlink(
                rt.settings,
                session.exec(
                    select(Outbox.path).where(
                        Outbox.request_id == request_id, Outbox.status == OutboxStatus.SENT
                    )
                ).all(),
            )
        expired = col(Request.code_hash).is_not(None), col(Request.code_expires_at) < now
        counts["messages"] += _unlink(
            rt.settings,
            session.exec(
                select(Outbox.path)
                .join(Request, col(Request.id) == col(Outbox.request_id))
                .where(*expired, col(Outbox.purpose).startswith("verification"))
            ).all(),
        )
        counts["codes"] = changed(session, update(Request).where(*expired).values(code_hash=None))
        if any(counts.values()):
            audit.record(
                session,
                actor="scheduler",
                action="expired_cleanup",
                bundles=counts["bundles"],
                staging=counts["staging"],
                codes=counts["codes"],
                messages=counts["messages"],
            )
    return counts


def _unlink(settings: Settings, locations: Sequence[str]) -> int:
    return sum(exports.delete_location(settings, location) for location in locations)
