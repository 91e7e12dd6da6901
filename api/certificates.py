"""Certificates on the web: the published keys, and a page where anyone checks a certificate.

``/.well-known/dsr-keys.json`` is the JWK Set of every key that ever signed a certificate (the
current one first). ``/privacy/certificate`` takes a certificate (``certificate.jws``, or the
reply saved as ``.eml``) as an upload or pasted, and says "valid, signed by <controller> on
<date>" or why not. No key, no login: the page only checks signatures, never reads the ledger;
it is CSRF-protected and counts against the privacy center's per-client throttle like its other
forms, and refuses anything larger than a certificate can be.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import runtime, service
from api.privacy_guard import PrivacyThrottle
from api.web_session import CsrfRejected, check_csrf, csrf_token, language, templates, words
from dsr.errors import InvalidInput
from dsr.service import Caller
from dsr.service import certificates as certs

router = APIRouter(include_in_schema=False)
KEYS_PATH = "/.well-known/dsr-keys.json"
PAGE = "/privacy/certificate"


@router.get(KEYS_PATH)
def published_keys(request: Request) -> Response:
    """The JWK Set a certificate is verified with (current and previous keys)."""
    return JSONResponse(
        certs.published_keys(service(request)),
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


def _page(request: Request, status_code: int = 200, **values: Any) -> HTMLResponse:
    lang = language(request)
    context = {
        "lang": lang,
        "w": words(lang, "privacy"),
        "c": words(lang, "certificate"),
        "csrf": csrf_token(request),
        "path": request.url.path,
        "company": runtime(request).settings.company_name,
        "max_kb": certs.MAX_BYTES // 1024,
        "check": None,
        "problem": None,
        **values,
    }
    return templates().TemplateResponse(
        request, "certificate/check.html", context, status_code=status_code
    )


@router.get(PAGE)
def check_page(request: Request) -> Response:
    return _page(request)


async def _certificate(request: Request) -> bytes | str:
    """The uploaded or pasted certificate, or the problem's name (csrf, too_large, missing)."""
    try:
        form = await request.form(max_files=1, max_fields=5, max_part_size=certs.MAX_BYTES)
    except Exception:  # noqa: BLE001 - any multipart parsing failure (starlette raises several)
        return "too_large"
    if not isinstance(form.get("csrf"), str):
        return "csrf"
    try:
        check_csrf(request, str(form.get("csrf")))
    except CsrfRejected:
        return "csrf"
    upload, pasted = form.get("file"), form.get("token")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(certs.MAX_BYTES + 1)
    elif isinstance(pasted, str) and pasted.strip():
        raw = pasted.strip().encode()
    else:
        return "missing"
    return "too_large" if len(raw) > certs.MAX_BYTES else raw


@router.post(PAGE)
async def check_certificate(request: Request) -> Response:
    """Verify the certificate sent; 200 valid, 422 refused (with why), 403/413/429 otherwise."""
    raw = await _certificate(request)
    if isinstance(raw, str):
        status = {"csrf": 403, "too_large": 413, "missing": 422}[raw]
        return _page(request, status, problem=raw)
    throttle: PrivacyThrottle = request.app.state.privacy_throttle
    wait = await run_in_threadpool(throttle.client, request)
    if wait:
        return _page(request, 429, problem="too_many")
    try:
        check = await run_in_threadpool(certs.verify, service(request), raw, by=Caller.subject())
    except InvalidInput:
        return _page(request, 413, problem="too_large")
    return _page(request, 200 if check.valid else 422, check=check)
