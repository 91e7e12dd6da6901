"""What we made from a subject's data: staged store files, the bundle, our copies of e-mails.

An erasure removes them for the subject's earlier, finished requests and revokes their download
links (``export_revocations``): the subject's link and the staff download then answer 410 Gone,
not the erased data. The layout is ``paths``'s, on this host's disk or in the bucket.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlmodel import Session, col, select

from config.settings import Settings
from dsr import objects
from dsr.core.ledger import audit, exports, paths
from dsr.core.ledger.models import (
    ExportRevocation,
    Outbox,
    OutboxStatus,
    Request,
    RequestStatus,
    utcnow,
)

FINISHED = (RequestStatus.COMPLETED, RequestStatus.REJECTED, RequestStatus.CANCELED)


def remove(session: Session, settings: Settings, request_id: str) -> int:
    """Delete one request's staged files, bundle and sent e-mail copies (on this host's disk and
    in the bucket, when there is one); files removed."""
    local = objects.LocalStore(settings.resolved_export_dir)
    stores = [local, exports.store(settings)] if exports.is_remote(settings) else [local]
    gone = 0
    for store in stores:
        gone += int(store.delete(exports.bundle_key(request_id)))
        gone += store.delete_prefix(exports.staging_root_key(request_id))
    sent = session.exec(
        select(Outbox.path).where(
            Outbox.request_id == request_id, Outbox.status == OutboxStatus.SENT
        )
    ).all()
    gone += sum(exports.delete_location(settings, location) for location in sent)
    _prune(paths.request_dir(settings.resolved_export_dir, request_id))
    return gone


def _prune(folder: Path) -> None:
    """Remove the request's folders left empty (an empty ``outbox/`` still says a request for
    this subject existed); a folder still holding something stays."""
    for empty in (folder / "outbox", folder):
        try:
            empty.rmdir()
        except OSError:
            pass  # absent, or not empty: a message still waiting to be sent


def earlier_requests(session: Session, erasure: Request, emails: Iterable[str]) -> list[str]:
    """The subject's earlier finished requests: their replies went to one of ``emails``."""
    addresses = sorted(set(emails))
    if not addresses:
        return []
    return list(
        session.exec(
            select(Request.id).where(
                col(Request.verified_email).in_(addresses),
                col(Request.status).in_(FINISHED),
                Request.id != erasure.id,
                col(Request.received_at) <= erasure.received_at,
            )
        ).all()
    )


def revoke_earlier(
    session: Session, settings: Settings, erasure: Request, emails: Iterable[str]
) -> int:
    """Remove the artefacts of the subject's earlier finished requests (replies went to one of
    ``emails``) and revoke their links, once; how many earlier requests had files removed."""
    earlier = earlier_requests(session, erasure, emails)
    if earlier:
        done = set(
            session.exec(
                select(ExportRevocation.request_id).where(
                    col(ExportRevocation.request_id).in_(list(earlier))
                )
            ).all()
        )
        for request_id in earlier:
            if request_id in done:
                continue
            files = remove(session, settings, request_id)
            session.add(
                ExportRevocation(
                    request_id=request_id, erased_by=erasure.id, files=files, revoked_at=utcnow()
                )
            )
            audit.record(
                session,
                actor="system",
                action="exports_revoked",
                request_id=request_id,
                erased_by=erasure.id,
                files=files,
            )
        session.flush()
    return removed_by(session, erasure.id)


def removed_by(session: Session, erasure_id: str) -> int:
    """How many earlier requests had files removed by this erasure."""
    return len(
        session.exec(
            select(ExportRevocation.request_id).where(
                ExportRevocation.erased_by == erasure_id, col(ExportRevocation.files) > 0
            )
        ).all()
    )


def revoked(session: Session, request_id: str) -> bool:
    """Whether an erasure removed this request's export (its links answer 410 Gone)."""
    return session.get(ExportRevocation, request_id) is not None
