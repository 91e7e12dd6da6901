"""The support-staff web page: server-rendered, no JavaScript, Vietnamese or English.

Log in with an API key; list requests with days left to the deadline; file a request; follow
one (each connector's status, the reply, the audit trail). The pages call the same service
functions as the JSON API, so the rules (validation, roles, enqueue after commit) are the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Principal
from api.deps import runtime, service
from api.downloads import bundle_response
from api.web_session import LOGIN_PATH, check_csrf, current, log_in, render
from dsr.core.ledger.models import OPEN_REQUEST, RequestKind, RequestStatus
from dsr.errors import (
    Gone,
    InvalidInput,
    NoteRequired,
    NotFound,
    PermissionDenied,
    StateConflict,
)
from dsr.identity import has_control
from dsr.service import Role, Submission, no_duplicates
from dsr.service.desk import RUNNING_CLOCK

router = APIRouter(include_in_schema=False)
LIST_PATH = "/web/requests"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def deadline(data: dict[str, Any], timezone: str, now: datetime) -> dict[str, Any]:
    """Due date in the profile's local calendar, whole days left, and whether it is overdue."""
    due = datetime.fromisoformat(data["due_at"].replace("Z", "+00:00"))
    tz = ZoneInfo(timezone)
    is_open = data["status"] in OPEN_REQUEST
    days = (due.astimezone(tz).date() - now.astimezone(tz).date()).days
    return {
        "due_date": due.astimezone(tz).date(),
        "open": is_open,
        "overdue": data["status"] in RUNNING_CLOCK and due < now,  # unverified: not started
        "days_left": days if is_open else None,
        "days_over": max(1, -days),
    }


def _with_deadline(request: Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    profiles, now = runtime(request).profiles, datetime.now(UTC)
    out = []
    for row in rows:
        profile = profiles.get(row["jurisdiction"])
        out.append({**row, **deadline(row, profile.timezone if profile else "UTC", now)})
    return out


@router.get("/")
def home() -> RedirectResponse:
    return _see_other(LIST_PATH)


@router.get(LOGIN_PATH)
def login_form(request: Request) -> Response:
    return render(request, "web/login.html")


@router.post(LOGIN_PATH)
def login(request: Request, api_key: str = Form(""), csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    if log_in(request, api_key.strip()) is None:
        return render(request, "web/login.html", 401, failed=True)
    return _see_other(LIST_PATH)


@router.post("/web/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    request.session.clear()
    return _see_other(LOGIN_PATH)


@router.get(LIST_PATH)
def requests_page(
    request: Request,
    status: str = "",
    overdue: str = "",
    filed: str = "",
    kind: str = "",
    who: Principal = Depends(current),
) -> Response:
    # Junk in the query string is ignored rather than answered with an error page.
    status = status if status in RequestStatus.__members__.values() else ""
    kind = kind if kind in RequestKind.__members__.values() else ""
    only_overdue = overdue.lower() in ("true", "1", "on")
    shown = service(request).listing(
        by=who.caller,
        status=status or None,
        overdue=only_overdue,
        limit=200,
        kind=kind or None,
    )
    rows = [r.model_dump(exclude_unset=True) for r in shown]
    return render(
        request,
        "web/list.html",
        who=who,
        rows=_with_deadline(request, rows),
        statuses=list(RequestStatus),
        status=status,
        kinds=list(RequestKind),
        kind=kind,
        overdue=only_overdue,
        filed=filed if any(r["id"] == filed for r in rows) else "",
    )


def _form_values(request: Request, **given: Any) -> dict[str, Any]:
    rt = runtime(request)
    return {
        "kinds": list(RequestKind),
        "jurisdictions": list(rt.profiles),
        "form": {
            "kind": "access",
            "email": "",
            "phone": "",
            "name": "",
            "changes": "",
            "jurisdiction": rt.settings.default_jurisdiction,
            "language": rt.settings.default_language,
            "verified": False,
            "text": "",
            **given,
        },
    }


@router.get("/web/requests/new")
def new_request_form(request: Request, who: Principal = Depends(current)) -> Response:
    return render(request, "web/new.html", who=who, error=None, **_form_values(request))


def _parse_changes(text: str) -> dict[str, str]:
    pairs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        field, sep, value = line.partition("=")
        if not sep or not field.strip():
            raise InvalidInput(f"each change is one line FIELD=VALUE, got {line.strip()[:40]!r}")
        pairs.append((field.strip(), value.strip()))
    return no_duplicates(pairs)


def _check_text(*values: str) -> None:
    """Form text the ledger can hold: bounded, no control characters but line breaks and tabs."""
    for value in values:
        if len(value) > 2000:
            raise InvalidInput("a field is longer than 2000 characters")
        if has_control(value, keep="\t\r\n"):
            raise InvalidInput("a field contains control characters")


@router.post(LIST_PATH)
def file_request(
    request: Request,
    csrf: str = Form(""),
    kind: str = Form(""),
    email: str = Form(""),
    phone: str = Form(""),
    name: str = Form(""),
    changes: str = Form(""),
    jurisdiction: str = Form(""),
    language: str = Form(""),
    verified: str = Form(""),
    text: str = Form(""),
    who: Principal = Depends(current),
) -> Response:
    """File a request from the form; bad input re-shows the form with the reason."""
    check_csrf(request, csrf)
    given = {
        "kind": kind,
        "email": email,
        "phone": phone,
        "name": name,
        "changes": changes,
        "jurisdiction": jurisdiction,
        "language": language,
        "verified": bool(verified),
        "text": text,
    }
    try:
        _check_text(kind, email, phone, name, changes, jurisdiction, language)
        if verified not in ("", "on"):  # the checkbox sends "on" or nothing
            raise InvalidInput("verified is a checkbox")
        if len(text) > 5000:  # complaints.MAX_TEXT; the service says the same more precisely
            raise InvalidInput("the complaint text is longer than 5000 characters")
        sub = Submission(
            kind=kind,
            email=email,
            phone=phone.strip() or None,
            name=name.strip() or None,
            changes=_parse_changes(changes),
            jurisdiction=jurisdiction or None,
            language=language or None,
            verified=bool(verified),
            by=who.actor,
            text=text if text.strip() else None,
        )
        data = service(request).submit(sub, by=who.caller)
    except InvalidInput as err:
        return render(
            request, "web/new.html", 422, who=who, error=str(err), **_form_values(request, **given)
        )
    # Straight to the request: a staff-filed one waits for the code the agent asks the caller.
    return _see_other(f"/web/requests/{data.id}?filed=1")


def _detail_page(
    request: Request,
    who: Principal,
    request_id: str,
    *,
    error: str | None = None,
    error_key: str | None = None,
    status_code: int = 200,
    answer_form: dict[str, str] | None = None,
) -> Response:
    svc = service(request)
    try:
        data = svc.status(request_id, by=who.caller).model_dump(exclude_unset=True)
    except NotFound:
        return render(request, "web/error.html", 404, who=who, problem="not_found")
    data = _with_deadline(request, [data])[0]
    may_download = svc.may_download(data["id"], by=who.caller)
    may_review = who.may(Role.OPS) and data["status"] == RequestStatus.NEEDS_REVIEW
    # Ops deciding see what each store holds of the records (read now, audited); support never.
    details = (
        {c.ref: c for c in svc.candidate_details(data["id"], by=who.caller)} if may_review else {}
    )
    error = error or request.session.pop("flash_error", None)  # a refusal redirected here
    return render(
        request,
        "web/detail.html",
        status_code,
        who=who,
        r=data,
        error=error,
        error_key=error_key,  # a known refusal, said in the page's language
        may_download=may_download,
        may_retry=who.may(Role.OPS) and data["status"] == RequestStatus.NEEDS_ATTENTION,
        answers=svc.complaint_templates(by=who.caller)
        if data["kind"] == RequestKind.COMPLAINT
        else [],
        may_answer=data["kind"] == RequestKind.COMPLAINT
        and data["status"] == RequestStatus.IN_PROGRESS,
        answer_form=answer_form or {"template": "", "note": ""},
        may_review=may_review,
        details=details,
        may_cancel=svc.may_cancel(data["id"], by=who.caller),
        attempts_left=svc.attempts_left(data["id"], by=who.caller),
        store_labels=svc.store_labels(by=who.caller),
        canceled=request.query_params.get("canceled") == "1",
    )


@router.get("/web/requests/{request_id}")
def request_page(request_id: str, request: Request, who: Principal = Depends(current)) -> Response:
    return _detail_page(request, who, request_id)


@router.post("/web/requests/{request_id}/verify")
def verify(
    request_id: str,
    request: Request,
    csrf: str = Form(""),
    code: str = Form(""),
    who: Principal = Depends(current),
) -> Response:
    check_csrf(request, csrf)
    try:
        service(request).verify(request_id, code[:32], by=who.caller)
    except (InvalidInput, StateConflict) as err:
        return _detail_page(request, who, request_id, error=str(err), status_code=422)
    return _see_other(f"/web/requests/{request_id}")


@router.post("/web/requests/{request_id}/answer")
def answer(
    request_id: str,
    request: Request,
    csrf: str = Form(""),
    template: str = Form(""),
    note: str = Form(""),
    who: Principal = Depends(current),
) -> Response:
    """Staff answer a complaint; a problem re-shows the page with the form as it was."""
    check_csrf(request, csrf)
    try:
        _check_text(template, note)
        service(request).answer(request_id, template=template, note=note or None, by=who.caller)
    except NotFound:
        return render(request, "web/error.html", 404, who=who, problem="not_found")
    except (InvalidInput, StateConflict) as err:
        return _detail_page(
            request,
            who,
            request_id,
            error=str(err),
            error_key="note_required" if isinstance(err, NoteRequired) else None,
            status_code=422 if isinstance(err, InvalidInput) else 409,
            answer_form={"template": template, "note": note},
        )
    return _see_other(f"/web/requests/{request_id}")


@router.post("/web/requests/{request_id}/retry")
def retry(
    request_id: str, request: Request, csrf: str = Form(""), who: Principal = Depends(current)
) -> Response:
    check_csrf(request, csrf)
    if not who.may(Role.OPS):
        return render(request, "web/error.html", 403, who=who, problem="forbidden")
    try:
        service(request).retry(request_id, by=who.caller)
    except (InvalidInput, StateConflict) as err:
        return _detail_page(request, who, request_id, error=str(err), status_code=409)
    return _see_other(f"/web/requests/{request_id}")


@router.post("/web/requests/{request_id}/review")
def review(
    request_id: str,
    request: Request,
    csrf: str = Form(""),
    include: list[str] = Form([]),
    who: Principal = Depends(current),
) -> Response:
    """Staff decision from the page: ticked candidates are included, the rest excluded."""
    check_csrf(request, csrf)
    if not who.may(Role.OPS):
        return render(request, "web/error.html", 403, who=who, problem="forbidden")
    picked = [ref[:400] for ref in include[:1000]]
    try:
        _check_text(*picked)
        service(request).review(
            request_id, include=picked, exclude=[], exclude_all=True, by=who.caller
        )
    except (InvalidInput, StateConflict) as err:
        return _detail_page(request, who, request_id, error=str(err), status_code=409)
    return _see_other(f"/web/requests/{request_id}")


@router.get("/web/requests/{request_id}/export")
def export(request_id: str, request: Request, who: Principal = Depends(current)) -> Response:
    try:
        path = service(request).export(request_id, by=who.caller)
    except Gone:
        return render(request, "web/error.html", 410, who=who, problem="gone")
    except NotFound:
        return render(request, "web/error.html", 404, who=who, problem="not_found")
    except PermissionDenied:
        return render(request, "web/error.html", 403, who=who, problem="forbidden")
    return bundle_response(path, f"dsr-export-{request_id}.zip")
