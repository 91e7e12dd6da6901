"""The privacy center: data subjects file and follow their own requests (no key, no JavaScript).

``/privacy`` offers access, rectify, erase and complaint; each form takes an e-mail address (a
phone, the new values of a correction, a complaint's text) and files the request through the
same application service as every other door, as a subject (``Caller.subject``): the one-time
code goes to that address and proves it alone; a typed phone stays ``asserted``. The visitor is
then sent to the request's private status link (``/privacy/status/<token>``), where they enter
the code and watch the request move; the link is also in the acknowledgement and code e-mails.
The page shows where the request stands, never what was found: the result goes only by e-mail
to the verified address.

Every answer is the same whether or not we hold data on the address (no enumeration); forms are
CSRF-protected, throttled per client and per address, and carry a honeypot
(``api/privacy_guard.py``).
"""

from __future__ import annotations

import secrets
from types import ModuleType
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import runtime, service
from api.privacy_guard import HONEYPOT, PrivacyThrottle
from api.web_session import (
    CsrfRejected,
    check_csrf,
    csrf_token,
    language,
    templates,
    words,
)
from connectors.registry import rectifiable_fields
from dsr.core.ledger.models import RequestKind
from dsr.errors import InvalidInput, NotFound, StateConflict, StorageFull
from dsr.identity import has_control, normalise_email, normalise_phone
from dsr.service import Caller, SubjectStatusOut, Submission, no_duplicates

router = APIRouter(prefix="/privacy", include_in_schema=False)
KINDS = [k.value for k in RequestKind]
MAX_FIELD = 320  # an e-mail address; every other one-line box is shorter
MAX_TEXT = 5000  # complaints.MAX_TEXT
_FIELD_ORDER = ("name", "phone", "email", "address")  # the form's order; others after


def _words(lang: str) -> ModuleType:
    return words(lang, "privacy")


def _render(
    request: Request,
    name: str,
    status_code: int = 200,
    *,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    lang = language(request)
    context = {
        "lang": lang,
        "w": _words(lang),
        "csrf": csrf_token(request),
        "path": request.url.path,
        "company": runtime(request).settings.company_name,
        **values,
    }
    response = templates().TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(headers or {})
    return response


def _problem(request: Request, problem: str, status_code: int, **values: Any) -> HTMLResponse:
    return _render(request, "privacy/error.html", status_code, problem=problem, **values)


def problem_page(request: Request, problem: str, status_code: int) -> HTMLResponse:
    """An error at a privacy-center address, as a page (``api/page_errors.py``)."""
    return _problem(request, problem, status_code)


def _too_many(request: Request, wait: int) -> HTMLResponse:
    minutes = max(1, -(-wait // 60))
    return _render(
        request,
        "privacy/error.html",
        429,
        headers={"Retry-After": str(wait)},
        problem="too_many",
        minutes=minutes,
    )


def _throttle(request: Request) -> PrivacyThrottle:
    guard: PrivacyThrottle = request.app.state.privacy_throttle
    return guard


def _visitor(request: Request) -> str:
    """This browser's visitor id (its session): what it files joins only what it filed."""
    visitor = request.session.get("visitor")
    if not isinstance(visitor, str) or len(visitor) != 24:
        visitor = secrets.token_hex(12)
        request.session["visitor"] = visitor
    return visitor


def _fields(request: Request) -> list[str]:
    known = rectifiable_fields(runtime(request).connectors)
    return [f for f in _FIELD_ORDER if f in known] + sorted(known - set(_FIELD_ORDER))


async def _form(request: Request) -> dict[str, str]:
    """The posted form as text fields; InvalidInput for a file or a field given twice."""
    form = await request.form(max_files=0, max_fields=40)
    pairs = []
    for name, value in form.multi_items():
        if not isinstance(value, str):
            raise InvalidInput("a form field is not text")
        pairs.append((name, value))
    return no_duplicates(pairs)


async def _posted(request: Request) -> dict[str, str] | Response:
    """The posted form once it passed the CSRF check and this client's throttle; otherwise the
    page to answer with instead (403, 422, 429)."""
    try:
        form = await _form(request)
        check_csrf(request, form.get("csrf", ""))
    except CsrfRejected:
        return _problem(request, "csrf", 403)
    except InvalidInput:
        return _problem(request, "rejected", 422)
    wait = await run_in_threadpool(_throttle(request).client, request)
    if wait:
        return _too_many(request, wait)
    return form


def _has_control(value: str, *, lines: bool) -> bool:
    return has_control(value, keep="\r\n" if lines else "")


@router.get("")
def home(request: Request) -> Response:
    return _render(request, "privacy/home.html", kinds=KINDS)


@router.get("/status/{token}")
def status_page(token: str, request: Request) -> Response:
    """Where the request stands; 404 alike for a tampered, expired or unknown link."""
    svc = service(request)
    try:
        caller = svc.subject_by_link(token)
        assert caller.request_id is not None
        data = svc.status(caller.request_id, by=caller).model_dump(exclude_unset=True)
    except NotFound:
        return _problem(request, "not_found", 404)
    return _status(request, token, data)


def _status(
    request: Request,
    token: str,
    data: dict[str, Any],
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    hours = max(1, runtime(request).settings.verification_ttl_seconds // 3600)
    return _render(
        request,
        "privacy/status.html",
        status_code,
        r=data,
        token=token,
        steps=_steps(data["kind"], data["phase"]),
        error=error,
        code_hours=hours,
    )


_STEPS = ("received", "code", "work", "reply")
_COMPLAINT_STEPS = ("received", "work", "reply")  # no code: it goes straight to staff
_AT = {
    "awaiting_code": "code",
    "code_closed": "code",
    "in_progress": "work",
    "with_staff": "work",
    "replying": "reply",
}


def _steps(kind: str, phase: str) -> list[dict[str, str]]:
    """The progress bar: each step ``done``, ``current`` or ``todo`` in the subject's terms."""
    names = _COMPLAINT_STEPS if kind == "complaint" else _STEPS
    if phase == "completed":
        at, marked = len(names), False
    elif phase in _AT:
        at, marked = names.index(_AT[phase]), True
    else:  # closed: received, and nothing after it
        at, marked = 1, False

    def state(i: int) -> str:
        return "done" if i < at else "current" if i == at and marked else "todo"

    return [{"name": n, "state": state(i)} for i, n in enumerate(names)]


@router.post("/status/{token}/code")
async def confirm_code(token: str, request: Request) -> Response:
    """The subject's one-time code, typed on their request's page."""
    svc = service(request)
    try:
        caller = svc.subject_by_link(token)
    except NotFound:
        return _problem(request, "not_found", 404)
    assert caller.request_id is not None
    form = await _posted(request)
    if isinstance(form, Response):
        return form
    code = form.get("code", "")[:32]
    try:
        await run_in_threadpool(svc.verify, caller.request_id, code, by=caller)
    except NotFound:
        return _problem(request, "not_found", 404)
    except StateConflict:
        pass  # verified meanwhile (a second tab): the page shows where it stands
    except InvalidInput:
        shown = await run_in_threadpool(svc.status, caller.request_id, by=caller)
        data = shown.model_dump(exclude_unset=True)
        w = _words(language(request))
        error = w.code_wrong if data["code_open"] else None
        return _status(request, token, data, error=error, status_code=422)
    return RedirectResponse(f"/privacy/status/{token}", status_code=303)


@router.get("/{kind}")
def form_page(kind: str, request: Request) -> Response:
    if kind not in KINDS:
        return _problem(request, "not_found", 404)
    return _render(request, "privacy/form.html", **_form_values(request, kind))


def _form_values(request: Request, kind: str, **given: Any) -> dict[str, Any]:
    form = {"email": "", "phone": "", "text": "", "changes": {}, **given}
    return {
        "kind": kind,
        "fields": _fields(request),
        "form": form,
        "honeypot": HONEYPOT,
        "error": None,
    }


@router.post("/{kind}")
async def file_request(kind: str, request: Request) -> Response:
    """File the request; bad input re-shows the form with the reason, nothing written."""
    if kind not in KINDS:
        return _problem(request, "not_found", 404)
    form = await _posted(request)
    if isinstance(form, Response):
        return form
    if form.get(HONEYPOT, ""):  # a robot filled in the box people never see
        return _problem(request, "rejected", 422)
    w = _words(language(request))
    email, phone, text = form.get("email", ""), form.get("phone", ""), form.get("text", "")
    changes = {
        f: form.get(f"new_{f}", "").strip() for f in _fields(request) if form.get(f"new_{f}", "")
    }
    given = {"email": email, "phone": phone, "text": text, "changes": changes}

    def again(error: str) -> HTMLResponse:
        values = _form_values(request, kind, **given)
        return _render(request, "privacy/form.html", 422, **{**values, "error": error})

    one_line = [email, phone, *changes.values()]
    if any(len(v) > MAX_FIELD for v in one_line) or len(text) > MAX_TEXT:
        return again(w.too_long)
    if any(_has_control(v, lines=False) for v in one_line) or _has_control(text, lines=True):
        return again(w.rejected)
    try:
        address = normalise_email(email)
    except InvalidInput:
        return again(w.bad_email)
    if phone.strip() and kind != "complaint":
        try:
            normalise_phone(phone, runtime(request).settings.default_region)
        except InvalidInput:
            return again(w.bad_phone)
    if kind == "rectify" and not changes:
        return again(w.no_changes)
    if kind == "complaint" and not text.strip():
        return again(w.no_text)
    wait = await run_in_threadpool(_throttle(request).address, address)
    if wait:
        return _too_many(request, wait)
    sub = Submission(
        kind=kind,
        email=email,
        phone=(phone.strip() or None) if kind != "complaint" else None,
        changes=changes if kind == "rectify" else {},
        language=language(request),
        text=text if kind == "complaint" else None,
    )
    caller = Caller.subject(visitor=_visitor(request))
    try:
        filed = await run_in_threadpool(service(request).submit, sub, by=caller)
    except InvalidInput as err:
        return again(str(err))
    except StorageFull:
        return _problem(request, "storage", 503)
    assert isinstance(filed, SubjectStatusOut)  # a subject's filing answers with its status link
    return RedirectResponse(f"/privacy/status/{filed.status_token}", status_code=303)
