"""The "this was not me" link of the acknowledgement and code e-mails (privacy center).

GET shows what following it does and asks to confirm; only the confirmation (POST, CSRF-checked,
throttled like every privacy-center form) stops the mailbox's e-mails: mail scanners open
links on their own. A tampered, expired or unknown link gets the same 404 as any other.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.deps import service
from api.privacy import _posted, _problem, _render
from dsr.errors import NotFound

router = APIRouter(prefix="/privacy/not-me", include_in_schema=False)


@router.get("/{token}")
def not_me_page(token: str, request: Request) -> Response:
    try:
        service(request).check_not_me(token)
    except NotFound:
        return _problem(request, "not_found", 404)
    return _render(request, "privacy/not_me.html", token=token, done=False)


@router.post("/{token}")
async def not_me(token: str, request: Request) -> Response:
    form = await _posted(request)
    if isinstance(form, Response):
        return form
    try:
        await run_in_threadpool(service(request).not_me, token)
    except NotFound:
        return _problem(request, "not_found", 404)
    return _render(request, "privacy/not_me.html", token=token, done=True)
