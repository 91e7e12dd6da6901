"""The reports on the staff page (ops role): ``/web/report`` for a year's DSR figures (the
dashboard links the current and the last year) and ``/web/report/retention``, as printable HTML
or, with ``?format=csv|json``, a download."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from api.auth import Principal
from api.deps import service
from api.web_session import current, language, render
from dsr.errors import InvalidInput
from dsr.service import Role, reports

router = APIRouter(include_in_schema=False)
PATH = "/web/report"


def _answer(doc: reports.Document, fmt: str) -> Response:
    headers = {}
    if fmt != "html":
        headers["Content-Disposition"] = f'attachment; filename="{doc.filename}"'
    return Response(doc.text, media_type=doc.media_type, headers=headers)


@router.get(PATH)
def yearly_page(
    request: Request,
    who: Principal = Depends(current),
    year: int | None = None,
    start: str | None = None,
    end: str | None = None,
    jurisdiction: str | None = None,
    format: str = "html",
) -> Response:
    """A year's figures (``?year=2026``), or any period (``?start=…&end=…``)."""
    if not who.may(Role.OPS):
        return render(request, "web/error.html", 403, who=who, problem="forbidden")
    if year is not None:
        start, end = f"{year:04d}-01-01", f"{year:04d}-12-31"
    try:
        doc = reports.yearly(
            service(request),
            by=who.caller,
            start=start or "",
            end=end or "",
            jurisdiction=jurisdiction or None,
            fmt=format,
            lang=language(request),
        )
    except InvalidInput as err:
        return PlainTextResponse(f"error: {err}", status_code=422)
    return _answer(doc, format)


@router.get(f"{PATH}/retention")
def retention_page(
    request: Request,
    who: Principal = Depends(current),
    format: str = "html",
) -> Response:
    if not who.may(Role.OPS):
        return render(request, "web/error.html", 403, who=who, problem="forbidden")
    try:
        doc = reports.retention(service(request), by=who.caller, fmt=format, lang=language(request))
    except InvalidInput as err:
        return PlainTextResponse(f"error: {err}", status_code=422)
    return _answer(doc, format)
