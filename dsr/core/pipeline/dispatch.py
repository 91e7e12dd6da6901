"""Fan-out: one connector task per store, run in identity-dependency order.

Tasks of stage N+1 (stores keyed by identifiers that stage-N stores provide, e.g. orders by the
CRM's customer id) are enqueued only when every stage-N task is terminal.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col, select

from dsr.core.identity import assurance
from dsr.core.ledger import audit
from dsr.core.ledger.db import changed
from dsr.core.ledger.models import (
    TERMINAL_TASK,
    ConnectorTask,
    Request,
    RequestKind,
    RequestStatus,
    TaskStatus,
    load_request,
    utcnow,
)
from dsr.core.pipeline import subjects
from dsr.core.runtime import steps
from dsr.core.runtime.process import Runtime


def dispatch(session: Session, rt: Runtime, request_id: str) -> list[steps.Step]:
    """Create the request's tasks (once) and enqueue the first ready stage; idempotent."""
    request = load_request(session, request_id)
    if request.kind == RequestKind.COMPLAINT:
        return []  # no store to search: staff answer it (dsr.core.intake.complaints)
    now = utcnow()
    if request.status == RequestStatus.VERIFIED:
        if subjects.busy_with_other(session, request, rt.settings.keys.suppression):
            return []  # one request at a time per subject: re-drive dispatches it later
        won = changed(
            session,
            update(Request)
            .where(
                col(Request.id) == request_id,
                col(Request.status) == RequestStatus.VERIFIED,
            )
            .values(status=RequestStatus.IN_PROGRESS, updated_at=now),
        )
        if won:
            audit.record(
                session,
                actor="system",
                action="dispatched",
                request_id=request_id,
                connectors=sorted(rt.connectors),
            )
            # What the accounts it proves were known by before a rectify is searched too.
            assurance.expand_former(session, rt, request_id)
    elif request.status != RequestStatus.IN_PROGRESS:
        return []  # a duplicate message for a request that has moved on
    existing = {t.connector for t in tasks_of(session, request_id)}
    for name in rt.connectors:
        if name not in existing:
            session.add(
                ConnectorTask(
                    request_id=request_id,
                    connector=name,
                    stage=rt.stages[name],
                    status=TaskStatus.PENDING,
                    updated_at=now,
                )
            )
    session.flush()
    return ready(session, request_id)


def tasks_of(session: Session, request_id: str) -> list[ConnectorTask]:
    return list(
        session.exec(
            select(ConnectorTask)
            .where(ConnectorTask.request_id == request_id)
            .order_by(col(ConnectorTask.stage), col(ConnectorTask.connector))
        )
    )


def ready(session: Session, request_id: str) -> list[steps.Step]:
    """Pending tasks of the earliest unfinished stage: those may run now.

    Running tasks are not re-sent here; a lost or stuck one is the re-drive job's business.
    """
    tasks = tasks_of(session, request_id)
    open_stages = [t.stage for t in tasks if t.status not in TERMINAL_TASK]
    if not open_stages:
        return [steps.fan_in(request_id)]
    current = min(open_stages)
    return [
        steps.run_task(t.id) for t in tasks if t.stage == current and t.status == TaskStatus.PENDING
    ]
