"""Four eyes at every door: approving a staff vouch, and ops granting an export download."""

from __future__ import annotations

from typing import Any

from dsr.core.intake import approval
from dsr.core.intake.views import request_json
from dsr.core.ledger.apikeys import Role
from dsr.core.ledger.models import RequestStatus
from dsr.errors import NotFound
from dsr.service.base import ServiceBase
from dsr.service.callers import Caller


class ApprovalOps(ServiceBase):
    """What a second staff member (and ops) do with a vouched request."""

    def approvals(self, *, by: Caller) -> list[dict[str, Any]]:
        """Vouched requests waiting for a second staff member: what was vouched (masked) and
        by whom. Any staff key sees them: approving is the point of a second person."""
        self._require(by, Role.SUPPORT)
        with self.session() as session:
            return [approval.view(r) for r in approval.waiting(session)]

    def approval(self, request_id: str, *, by: Caller) -> dict[str, Any]:
        """One vouched request as its approver sees it; NotFound unless it waits for approval."""
        self._require(by, Role.SUPPORT)
        with self.session() as session:
            request = self._load(session, request_id)
            if request.status != RequestStatus.AWAITING_APPROVAL and not by.sees(request):
                raise NotFound("no such request")
            return approval.view(request)

    def approve(self, request_id: str, *, by: Caller) -> dict[str, Any]:
        """A second staff member approves a vouched request; it is verified and dispatched.
        PermissionDenied for the one who vouched (or the key that filed it)."""
        self._require(by, Role.SUPPORT)
        with self.session() as session:
            self._load(session, request_id)
            follow = approval.approve(session, self.rt, request_id, by=by.actor, owner=by.owner)
            session.commit()
            data = approval.view(self._load(session, request_id))
        self.send(follow)
        return data

    def grant_export(self, request_id: str, *, by: Caller) -> dict[str, Any]:
        """Ops let the key that filed a staff-vouched access download its export (audited)."""
        self._require(by, Role.OPS)
        with self.session() as session:
            self._load(session, request_id)
            approval.grant_export(session, request_id, by=by.actor)
            session.commit()
            return request_json(session, self._load(session, request_id))
