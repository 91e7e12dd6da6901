"""Fan-in's winner builds the reply from every task's result and queues it in the outbox.

A rectify or erase first tells the third parties that received changed records
(``notices``); the reply is built once those notices went, so it says who was told and when.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from dsr.core.identity import artefacts
from dsr.core.ledger import audit, exports, paths, storage
from dsr.core.ledger.models import (
    Outbox,
    Request,
    RequestKind,
    RequestStatus,
    TaskStatus,
    load_request,
)
from dsr.core.pipeline.reports import reply_identity, store_reports
from dsr.core.replies import alerts, bundle, certificate, messages, notices, outbox, templates
from dsr.core.runtime import steps
from dsr.core.runtime.process import Runtime
from dsr.objects import Blob


def aggregate(session: Session, rt: Runtime, request_id: str) -> list[steps.Step]:
    """Build and queue the reply once; only the aggregation that built it sends it (a lost
    delivery is the re-drive job's: it re-sends unsent outbox rows)."""
    request = load_request(session, request_id)
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
    try:
        reply = _queue_reply(session, rt, request, reports, notices.views(settled.notices))
    except OSError as err:
        if not storage.is_disk_full(err):
            raise
        # The bundle or the reply could not be written; what was half-written is gone.
        # Ops are told, and re-drive builds the reply again once there is space.
        return alerts.raise_alert(
            session, rt.settings, reason="disk_full", request=request, occasion="reply"
        )
    audit.record(
        session,
        actor="system",
        action="reply_built",
        request_id=request_id,
        stores={r.connector: r.status for r in reports},
    )
    return [steps.deliver(reply.id)]


def _queue_reply(
    session: Session,
    rt: Runtime,
    request: Request,
    reports: list[templates.StoreReport],
    told: list[templates.NoticeView],
) -> Outbox:
    ctx = messages.context(request, rt.settings)
    reply_identity(session, ctx, request)
    if request.kind == RequestKind.ERASE:
        ctx.exports_removed = artefacts.removed_by(session, request.id)  # at fan-in
    built: Path | Blob | None = None
    if request.kind == RequestKind.ACCESS:
        export_dir = rt.settings.resolved_export_dir
        done = paths.bundle(export_dir, request.id)
        # A bundle is written whole or not at all: one already there is this reply's.
        if exports.is_remote(rt.settings):
            objects = exports.store(rt.settings)
            key = exports.bundle_key(request.id)
            built = (
                Blob(objects, key)
                if objects.size(key) is not None
                else bundle.upload_bundle(
                    ctx,
                    reports,
                    scratch=export_dir,
                    objects=objects,
                    timezone=rt.settings.timezone,
                )
            )
            objects.delete_prefix(exports.staging_root_key(request.id))  # in the bundle now
        else:
            built = (
                done
                if done.is_file()
                else bundle.build_bundle(
                    ctx, reports, export_dir=export_dir, timezone=rt.settings.timezone
                )
            )
        storage.remove_tree(paths.staging_root(export_dir, request.id))  # in the bundle now
    message = templates.render_reply(ctx, reports, settings=rt.settings, bundle=built, notices=told)
    # Signed in this transaction with its audit event: the reply and its proof exist together.
    signed = certificate.issue(session, rt.settings, request, reports, told)
    message.add_attachment(
        signed.token.encode("ascii"),
        maintype="application",
        subtype="jose",
        filename=certificate.FILENAME,
    )
    assert request.verified_email is not None
    return outbox.queue(
        session,
        rt.settings,
        request_id=request.id,
        purpose=outbox.REPLY,
        recipient=request.verified_email,
        message=message,
    )
