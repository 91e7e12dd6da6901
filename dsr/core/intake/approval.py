"""Four eyes on staff vouching: one staff member's word does not open a subject's data.

A request filed ``verified`` (staff vouch for the subject instead of a code) for an access or
an erasure waits in ``awaiting_approval`` until a *different* staff member approves it; only then
is it verified and dispatched. ``DSR_VOUCH_POLICY`` says otherwise where that is wanted:
``ops_only`` lets only ops vouch (support keys may not) and needs no second person; ``single``
is one person's word, as before (the demo, the soak and the benchmarks set it explicitly).

Who vouched and who approved go into the audit log and the reply. The export of a staff-vouched
access goes to the subject's address on file like any other reply; the key that filed it cannot
download it unless ops grant that (audited, :func:`grant_export`).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from config.settings import Settings
from dsr.core.identity.masking import mask
from dsr.core.intake import verification
from dsr.core.intake.views import iso
from dsr.core.ledger import audit
from dsr.core.ledger.models import Request, RequestKind, RequestStatus, load_request, utcnow
from dsr.core.pipeline import dispatch
from dsr.core.runtime import steps
from dsr.core.runtime.process import Runtime
from dsr.errors import PermissionDenied, StateConflict

GUARDED = (RequestKind.ACCESS, RequestKind.ERASE)


def needs_approval(settings: Settings, kind: str) -> bool:
    """Whether a staff vouch for a request of ``kind`` waits for a second staff member."""
    return settings.vouch_policy == "four_eyes" and kind in GUARDED


def check_voucher(settings: Settings, kind: str, *, is_ops: bool) -> None:
    """PermissionDenied when the policy does not let this caller vouch at all."""
    if settings.vouch_policy == "ops_only" and kind in GUARDED and not is_ops:
        raise PermissionDenied("only ops may vouch for a subject (DSR_VOUCH_POLICY=ops_only)")


def hold(session: Session, request: Request, *, by: str) -> None:
    """A vouched request waits for its second staff member (nothing is searched before)."""
    now = utcnow()
    request.status = RequestStatus.AWAITING_APPROVAL
    request.verified_by = by
    request.updated_at = now
    session.add(request)
    audit.record(session, actor=by, action="vouched_awaiting_approval", request_id=request.id)


def approve(
    session: Session, rt: Runtime, request_id: str, *, by: str, owner: str | None
) -> list[steps.Step]:
    """A second staff member approves: the request is verified (in the voucher's name) and
    dispatched. PermissionDenied for the staff member (or the key) that vouched."""
    request = load_request(session, request_id, status=RequestStatus.AWAITING_APPROVAL)
    voucher = request.verified_by or ""
    if _same_person(voucher, by) or (owner is not None and owner == request.owner):
        raise PermissionDenied("the staff member who vouched cannot approve their own vouch")
    verification.mark_verified(session, request, by=voucher)
    request.approved_by = by
    session.add(request)
    audit.record(session, actor=by, action="approved", request_id=request.id, vouched_by=voucher)
    return dispatch.dispatch(session, rt, request.id)


def _same_person(a: str, b: str) -> bool:
    # "api:lan" (a key named lan) and "lan" (the CLI's --by lan) are one staff member.
    return a.removeprefix("api:").casefold() == b.removeprefix("api:").casefold()


def waiting(session: Session) -> list[Request]:
    """Requests waiting for a second staff member, oldest first."""
    return list(
        session.exec(
            select(Request)
            .where(col(Request.status) == RequestStatus.AWAITING_APPROVAL)
            .order_by(col(Request.received_at))
        )
    )


def view(request: Request) -> dict[str, Any]:
    """What the approver sees: what was vouched for (masked) and by whom, never any record."""
    vouched = [
        {"kind": kind, "value": mask(kind, value)}
        for kind, value in (
            ("email", request.email),
            ("phone", request.phone),
            ("name", request.name),
        )
        if value
    ]
    return {
        "id": request.id,
        "kind": request.kind,
        "status": request.status,
        "vouched_by": request.verified_by,
        "received_at": iso(request.received_at),
        "due_at": iso(request.due_at),
        "vouched": vouched,
    }


def download_refused(request: Request, *, is_ops: bool) -> bool:
    """Whether the filing key may not download this export: a staff-vouched access's bundle
    is the subject's (sent to their address); ops grant the key a download when needed."""
    return request.verified_by is not None and not is_ops and request.export_granted_by is None


def grant_export(session: Session, request_id: str, *, by: str) -> Request:
    """Ops let the key that filed a staff-vouched access download its export (audited);
    StateConflict for any other request, which has no export or whose filer needs no grant."""
    request = load_request(session, request_id)
    if request.kind != RequestKind.ACCESS:
        raise StateConflict(f"request {request.id} is {request.kind}: it has no export")
    if request.verified_by is None:
        raise StateConflict(
            f"request {request.id} was not vouched for by staff: its filer needs no grant"
        )
    request.export_granted_by = by
    request.updated_at = utcnow()
    session.add(request)
    audit.record(session, actor=by, action="export_granted", request_id=request.id)
    return request
