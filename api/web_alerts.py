"""Acknowledging an alert from the ops dashboard (a form on ``/web/dashboard``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Principal
from api.deps import service
from api.web_dashboard import PATH
from api.web_session import check_csrf, current, render
from dsr.service import Role
from dsr.service.alerts import acknowledge

router = APIRouter(include_in_schema=False)


@router.post("/web/alerts/{alert_id}/acknowledge")
def acknowledge_alert(
    alert_id: str, request: Request, csrf: str = Form(""), who: Principal = Depends(current)
) -> Response:
    check_csrf(request, csrf)
    if not who.may(Role.OPS):
        return render(request, "web/error.html", 403, who=who, problem="forbidden")
    acknowledge(service(request), alert_id, by=who.caller)
    return RedirectResponse(f"{PATH}#alerts", status_code=303)
