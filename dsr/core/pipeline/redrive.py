"""Re-drive: find work whose message was lost (the ledger is the source of truth) and re-send it.

Every actor is idempotent, so re-sending a step that is in fact still queued costs one no-op.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from dsr.core.ledger.models import (
    TERMINAL_TASK,
    ConnectorTask,
    Outbox,
    OutboxStatus,
    Request,
    RequestKind,
    RequestStatus,
    TaskStatus,
    utcnow,
)
from dsr.core.pipeline.dispatch import ready
from dsr.core.replies import alerts, outbox
from dsr.core.runtime import steps
from dsr.core.runtime.process import Runtime


def stuck(
    session: Session,
    rt: Runtime,
    *,
    now: datetime | None = None,
    older_than_seconds: int | None = None,
    request_id: str | None = None,
) -> list[steps.Step]:
    """Steps to re-send for requests, tasks and outbox rows idle longer than the threshold.

    ``request_id`` limits the search to one request (``dsr redrive ID``).
    """
    now = now or utcnow()
    age = rt.settings.redrive_after_seconds if older_than_seconds is None else older_than_seconds
    cutoff = now - timedelta(seconds=age)
    # A running task or a delivery in flight is re-driven the moment its lease expires (its
    # worker renews it while alive), not a threshold later.
    expired = now - timedelta(seconds=rt.settings.task_lease_seconds)
    out: list[steps.Step] = []
    requests = select(Request).where(
        col(Request.status).in_(
            (RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS, RequestStatus.REPLYING)
        ),
        col(Request.updated_at) <= cutoff,
        col(Request.kind) != RequestKind.COMPLAINT,  # waits for staff, not for a message
    )
    # Pending rows, and sent rows whose consequences (completion, audit) were never recorded.
    unsent = select(Outbox).where(
        or_(
            col(Outbox.status) == OutboxStatus.PENDING,
            and_(col(Outbox.status) == OutboxStatus.SENT, col(Outbox.finished_at).is_(None)),
        ),
        col(Outbox.created_at) <= cutoff,
        or_(col(Outbox.claimed_at).is_(None), col(Outbox.claimed_at) < expired),
    )
    if request_id is not None:
        requests = requests.where(Request.id == request_id)
        unsent = unsent.where(Outbox.request_id == request_id)
    for request in session.exec(requests):
        if request.status == RequestStatus.VERIFIED:
            out.append(steps.dispatch(request.id))
        elif request.status == RequestStatus.REPLYING:
            if outbox.find(session, request.id, outbox.REPLY) is None:
                out.append(steps.aggregate(request.id))
        else:
            out += _stuck_tasks(session, request.id, cutoff, expired)
    for row in session.exec(unsent):
        out.append(steps.deliver(row.id))
    if request_id is None:  # alerts whose e-mail could not be written then: ops hear now
        out += alerts.unemailed(session, rt.settings)
    return list(dict.fromkeys(out))


def _stuck_tasks(
    session: Session, request_id: str, cutoff: datetime, expired: datetime
) -> list[steps.Step]:
    tasks = list(session.exec(select(ConnectorTask).where(ConnectorTask.request_id == request_id)))
    if all(t.status in TERMINAL_TASK for t in tasks):
        return [steps.fan_in(request_id)]
    idle = [
        t
        for t in tasks
        if (t.status == TaskStatus.PENDING and t.updated_at < cutoff)
        or (t.status == TaskStatus.RUNNING and (t.started_at or t.updated_at) < expired)
    ]
    if not idle:
        return []
    pending_ready = ready(session, request_id)
    running = [steps.run_task(t.id) for t in idle if t.status == TaskStatus.RUNNING]
    return pending_ready + running
