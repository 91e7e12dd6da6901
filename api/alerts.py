"""``GET /alerts`` and ``POST /alerts/{id}/acknowledge``: ops' alerts, and who took each."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from api.auth import Principal, require
from api.deps import service
from api.routes import errors
from api.strict_json import StrictJsonRoute
from dsr.service import Role
from dsr.service.alerts import AlertView, acknowledge, list_alerts

router = APIRouter(prefix="/alerts", tags=["alerts"], route_class=StrictJsonRoute)


@router.get("", response_model=list[AlertView], responses=errors(401, 403, 422))
def get_alerts(
    request: Request,
    open_: bool = Query(False, alias="open", description="Only alerts not yet acknowledged."),
    limit: int = Query(200, ge=1, le=1000),
    who: Principal = Depends(require(Role.OPS)),
) -> list[AlertView]:
    """Alerts raised to ops, newest first (ids, reasons and store names; no personal data)."""
    return list_alerts(service(request), by=who.caller, open_only=open_, limit=limit)


@router.post("/{alert_id}/acknowledge", response_model=AlertView, responses=errors(401, 403, 404))
def post_acknowledge(
    alert_id: str, request: Request, who: Principal = Depends(require(Role.OPS))
) -> AlertView:
    """Ops took the alert: who and when are recorded (once), and audit-logged."""
    return acknowledge(service(request), alert_id, by=who.caller)
