"""The desk on the staff page: find a caller's requests by what they say, and cancel one.

One search box takes an e-mail, a phone or a request id (8 characters or more); the service
matches identifiers through the ledger's keyed hashes and audits every search.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Principal
from api.deps import service
from api.web_session import check_csrf, current, render
from dsr.errors import InvalidInput, NotFound, PermissionDenied, StateConflict

router = APIRouter(include_in_schema=False)
SEARCH_PATH = "/web/search"
_ID = re.compile(r"[0-9a-fA-F]{8,32}")


def split_query(text: str) -> dict[str, str]:
    """What one search box holds: an e-mail (has an @), a request id (8-32 hex characters) or
    else a phone number."""
    text = text.strip()
    if "@" in text:
        return {"email": text}
    if _ID.fullmatch(text) and not text.isdigit():
        return {"request_id": text}
    if _ID.fullmatch(text) and len(text) > 12:  # no phone has 13+ digits: an all-digit id
        return {"request_id": text}
    return {"phone": text}


@router.get(SEARCH_PATH)
def search_page(request: Request, q: str = "", who: Principal = Depends(current)) -> Response:
    """The requests matching what the caller says (status and dates; details for the filer)."""
    q = q[:320]
    if not q.strip():
        return render(
            request, "web/search.html", who=who, q="", found=[], searched=False, error=None
        )
    try:
        found = service(request).find_requests(by=who.caller, **split_query(q))
    except InvalidInput as err:
        return render(
            request, "web/search.html", 422, who=who, q=q, found=[], searched=True, error=str(err)
        )
    except PermissionDenied:
        return render(request, "web/error.html", 403, who=who, problem="forbidden")
    return render(request, "web/search.html", who=who, q=q, found=found, searched=True, error=None)


@router.post("/web/requests/{request_id}/cancel")
def cancel(
    request_id: str,
    request: Request,
    csrf: str = Form(""),
    reason: str = Form(""),
    who: Principal = Depends(current),
) -> Response:
    """Cancel from the request's page; a refusal shows the page with the reason (a redirect to
    its GET, so reload and the language link work)."""
    check_csrf(request, csrf)
    try:
        service(request).cancel(request_id, reason=reason[:500], by=who.caller)
    except NotFound:
        return render(request, "web/error.html", 404, who=who, problem="not_found")
    except PermissionDenied:
        return render(request, "web/error.html", 403, who=who, problem="forbidden")
    except (InvalidInput, StateConflict) as err:
        request.session["flash_error"] = str(err)[:300]
        return RedirectResponse(f"/web/requests/{request_id}", status_code=303)
    return RedirectResponse(f"/web/requests/{request_id}?canceled=1", status_code=303)
