"""Fan-in's winner builds the reply from every task's result and queues it in the outbox."""

from __future__ import annotations

from sqlmodel import Session

from dsr.core import assurance, audit, bundle, messages, outbox, replies, steps
from dsr.core.models import Request, RequestKind, RequestStatus, TaskStatus
from dsr.core.reports import reply_identity, store_reports
from dsr.core.runtime import Runtime
from dsr.errors import NotFound


def aggregate(session: Session, rt: Runtime, request_id: str) -> list[steps.Step]:
    """Build and queue the reply once; a duplicate message re-sends the same outbox row."""
    request = session.get(Request, request_id)
    if request is None:
        raise NotFound(f"no request {request_id}")
    if request.status != RequestStatus.REPLYING:
        return []
    reports = store_reports(session, rt, request)
    if any(r.status == TaskStatus.FAILED for r in reports):
        # Fan-in never sends a failed request here; refuse to claim completeness regardless.
        raise AssertionError(f"request {request_id} has a failed task but is replying")
    if request.verified_email is None:
        raise AssertionError(f"request {request_id} is replying without a verified address")
    existing = outbox.find(session, request_id, outbox.REPLY)
    if existing is None:
        ctx = messages.context(request, rt.settings)
        reply_identity(session, ctx, request)
        if request.kind == RequestKind.ERASE:
            # The erasure is complete in every store: what we made of the data goes too.
            ctx.exports_removed = assurance.complete_erasure(session, rt, request)
        built = (
            bundle.build_bundle(ctx, reports, export_dir=rt.settings.resolved_export_dir)
            if request.kind == RequestKind.ACCESS
            else None
        )
        message = replies.render_reply(ctx, reports, settings=rt.settings, bundle=built)
        existing = outbox.queue(
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
    return [steps.deliver(existing.id)]
