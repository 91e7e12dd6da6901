"""Fan-in's winner builds the reply from every task's result and queues it in the outbox.

A rectify or erase first tells the third parties that received changed records
(``notices``); the reply is built once those notices went, so it says who was told and when.
"""

from __future__ import annotations

from sqlmodel import Session, select

from dsr.core import audit, bundle, messages, notices, outbox, replies, steps
from dsr.core.models import Request, RequestKind, RequestStatus, TaskStatus
from dsr.core.reports import store_reports
from dsr.core.runtime import Runtime
from dsr.errors import NotFound


def aggregate(session: Session, rt: Runtime, request_id: str) -> list[steps.Step]:
    """Build and queue the reply once; only the aggregation that built it sends it (a lost
    delivery is the re-drive job's: it re-sends unsent outbox rows)."""
    request = session.get(Request, request_id)
    if request is None:
        raise NotFound(f"no request {request_id}")
    if request.kind != RequestKind.ACCESS:
        # The last notices going out together each start an aggregation: they run one at a
        # time (a row lock), so exactly one builds and sends the reply.
        session.exec(
            select(Request)
            .where(Request.id == request_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
    if request.status != RequestStatus.REPLYING:
        return []
    reports = store_reports(session, rt, request)
    if any(r.status == TaskStatus.FAILED for r in reports):
        # Fan-in never sends a failed request here; refuse to claim completeness regardless.
        raise AssertionError(f"request {request_id} has a failed task but is replying")
    if request.verified_email is None:
        raise AssertionError(f"request {request_id} is replying without a verified address")
    if outbox.find(session, request_id, outbox.REPLY) is not None:
        return []
    settled = notices.settle(session, rt, request, reports)
    if settled.notices is None:
        return settled.steps  # the reply waits for the notices to go (or for ops)
    ctx = messages.context(request, rt.settings)
    built = (
        bundle.build_bundle(ctx, reports, export_dir=rt.settings.resolved_export_dir)
        if request.kind == RequestKind.ACCESS
        else None
    )
    message = replies.render_reply(
        ctx, reports, settings=rt.settings, bundle=built, notices=notices.views(settled.notices)
    )
    reply = outbox.queue(
        session,
        rt.settings,
        request_id=request_id,
        purpose=outbox.REPLY,
        recipient=request.verified_email,
        message=message,
    )
    audit.record(
        session,
        actor="system",
        action="reply_built",
        request_id=request_id,
        stores={r.connector: r.status for r in reports},
    )
    return [steps.deliver(reply.id)]
