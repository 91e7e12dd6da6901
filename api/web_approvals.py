"""The staff page's approvals: vouched requests waiting for a second staff member."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Principal
from api.deps import service
from api.web_session import check_csrf, current, render
from dsr.errors import InvalidInput, NotFound, PermissionDenied, StateConflict

router = APIRouter(include_in_schema=False)
PATH = "/web/approvals"


@router.get(PATH)
def approvals(request: Request, who: Principal = Depends(current)) -> Response:
    rows = service(request).approvals(by=who.caller)
    return render(request, "web/approvals.html", who=who, rows=rows, error=None)


@router.post(PATH + "/{request_id}")
def approve(
    request_id: str, request: Request, csrf: str = Form(""), who: Principal = Depends(current)
) -> Response:
    check_csrf(request, csrf)
    svc = service(request)
    try:
        svc.approve(request_id, by=who.caller)
    except (PermissionDenied, NotFound, StateConflict, InvalidInput) as err:
        status = 403 if isinstance(err, PermissionDenied) else 409
        rows = svc.approvals(by=who.caller)
        return render(request, "web/approvals.html", status, who=who, rows=rows, error=str(err))
    return RedirectResponse(PATH, status_code=303)
