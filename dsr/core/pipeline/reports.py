"""What each store did for a request, as the replies and ops alerts show it."""

from __future__ import annotations

from collections import Counter

from sqlmodel import Session

from dsr.core.identity import candidates, identifiers
from dsr.core.ledger import exports, paths
from dsr.core.ledger.models import CandidateDecision, Provenance, Request, RequestKind, TaskStatus
from dsr.core.pipeline.dispatch import tasks_of
from dsr.core.replies import export_notes, templates
from dsr.core.runtime.process import Runtime
from dsr.identity import NAME


def store_reports(session: Session, rt: Runtime, request: Request) -> list[templates.StoreReport]:
    """One report per connector task, in stage order."""
    excluded = _excluded(session, request.id)
    rules = export_notes.retention_rules(rt.settings.retention_file)
    reports = []
    for task in tasks_of(session, request.id):
        connector = rt.connectors.get(task.connector)
        staging = paths.staging(rt.settings.resolved_export_dir, request.id, task.connector)
        access = request.kind == RequestKind.ACCESS
        remote = access and exports.is_remote(rt.settings)
        reports.append(
            templates.StoreReport(
                connector=task.connector,
                labels=dict(getattr(connector, "labels", {}) or {"en": task.connector}),
                status=task.status,
                result=task.result,
                recipients=[r.name for r in rt.recipients.of_store(task.connector)],
                staging=staging if access and not remote and staging.exists() else None,
                staged=exports.staging_key(request.id, task.connector) if remote else None,
                reason=task.error if task.status != TaskStatus.DONE else None,
                excluded=sorted(excluded.get(task.connector, Counter()).items()),
                tables=export_notes.for_store(connector, rules),
            )
        )
    return reports


def _excluded(session: Session, request_id: str) -> dict[str, Counter[str]]:
    """Per store, records left out, counted by reason. Only those a proven identifier hit are
    counted: telling a requester that an identifier they merely typed hit someone's record
    would disclose that record (the reply says so in general words instead)."""
    out: dict[str, Counter[str]] = {}
    for row in candidates.of(session, request_id):
        if not row.trusted_match or row.decision == CandidateDecision.INCLUDED:
            continue
        reason = "excluded" if row.decision == CandidateDecision.EXCLUDED else row.reason
        out.setdefault(row.connector, Counter())[reason] += 1
    return out


def reply_identity(session: Session, ctx: templates.ReplyContext, request: Request) -> None:
    """Fill in what the reply says about identity: the identifiers searched (masked) and the
    kinds that were given but not proven."""
    # A name searches no store: the reply lists what the stores were searched by.
    rows = [r for r in identifiers.of(session, request.id) if r.kind != NAME]
    ctx.identifiers = [templates.IdentifierView(r.kind, r.provenance, r.masked) for r in rows]
    ctx.unproven = sorted({r.kind for r in rows if r.provenance == Provenance.ASSERTED})
