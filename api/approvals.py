"""``/approvals``: a second staff member approves a vouched request; ops grant an export."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from api.auth import Principal, require
from api.deps import service
from api.routes import errors
from api.strict_json import StrictJsonRoute
from dsr.service import Role

router = APIRouter(tags=["approvals"], route_class=StrictJsonRoute)


@router.get("/approvals", responses=errors(401, 403))
def waiting(
    request: Request, who: Principal = Depends(require(Role.SUPPORT))
) -> list[dict[str, Any]]:
    """Vouched access and erase requests waiting for a second staff member: what was vouched
    (masked) and by whom."""
    return service(request).approvals(by=who.caller)


@router.get("/approvals/{request_id}", responses=errors(401, 403, 404))
def one(
    request_id: str, request: Request, who: Principal = Depends(require(Role.SUPPORT))
) -> dict[str, Any]:
    """One vouched request as its approver sees it."""
    return service(request).approval(request_id, by=who.caller)


@router.post("/approvals/{request_id}", responses=errors(401, 403, 404, 409))
def approve(
    request_id: str, request: Request, who: Principal = Depends(require(Role.SUPPORT))
) -> dict[str, Any]:
    """Approve: the request is verified and goes to its stores. 403 for the key (or the staff
    member) that vouched."""
    return service(request).approve(request_id, by=who.caller)


@router.post("/requests/{request_id}/export-grant", responses=errors(401, 403, 404, 409))
def grant_export(
    request_id: str, request: Request, who: Principal = Depends(require(Role.OPS))
) -> dict[str, Any]:
    """Ops let the key that filed a staff-vouched access download its export (audited)."""
    return service(request).grant_export(request_id, by=who.caller)
