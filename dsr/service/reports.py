"""Reports at the doors: the yearly DSR figures and retention you can show (ops only)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from dsr.core.ledger.apikeys import Role
from dsr.core.ops import report, report_render, retention_report
from dsr.errors import InvalidInput, PermissionDenied
from dsr.service.app import Service
from dsr.service.callers import Caller

FORMATS = ("html", "csv", "json")
Format = Literal["html", "csv", "json"]
_MEDIA = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8",
          "json": "application/json"}  # fmt: skip


class Document(BaseModel):
    """A report rendered for its reader: the text, its media type and a file name."""

    media_type: str
    filename: str
    text: str
    data: dict[str, Any]  # the figures (what ``--json`` prints)
    flagged: list[str] = []  # retention: rules past their limit by more than a sweep interval


def _ops(by: Caller) -> None:
    if not by.may(Role.OPS):
        raise PermissionDenied("not allowed for this role")


def _day(value: str | date, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} is not a date (YYYY-MM-DD)", name) from None


def _checked(fmt: str, lang: str | None, svc: Service) -> tuple[str, str]:
    if fmt not in FORMATS:
        raise InvalidInput(f"format is one of {', '.join(FORMATS)}", "format")
    lang = lang or svc.rt.settings.default_language
    if lang not in ("vi", "en"):
        raise InvalidInput("language is vi or en", "language")
    return fmt, lang


def _document(svc: Service, name: str, figures: Any, fmt: str, lang: str, stem: str) -> Document:
    data = report_render.plain(figures)
    if fmt == "json":
        text = json.dumps(data, ensure_ascii=False, indent=2)
    elif fmt == "csv":
        text = report_render.csv_rows(figures)
    else:
        company = svc.rt.settings.company_name
        text = report_render.html(name, figures, lang=lang, company=company)
    return Document(media_type=_MEDIA[fmt], filename=f"{stem}.{fmt}", text=text, data=data)


def yearly(
    svc: Service,
    *,
    by: Caller,
    start: str | date,
    end: str | date,
    jurisdiction: str | None = None,
    fmt: str = "html",
    lang: str | None = None,
) -> Document:
    """The period's DSR figures (requests received from ``start`` to ``end``, inclusive)."""
    _ops(by)
    first, last = _day(start, "from"), _day(end, "to")
    if first > last:
        raise InvalidInput("the period ends before it starts", "from", "to")
    if jurisdiction is not None and jurisdiction not in svc.rt.profiles:
        known = ", ".join(sorted(svc.rt.profiles))
        raise InvalidInput(f"unknown jurisdiction (known: {known})", "jurisdiction")
    fmt, lang = _checked(fmt, lang, svc)
    zone = svc.rt.profiles[jurisdiction or svc.rt.settings.default_jurisdiction].zone
    with svc.session() as session:
        figures = report.yearly(
            session, start=first, end=last, zone=zone, jurisdiction=jurisdiction
        )
    stem = f"dsr-report-{first.isoformat()}-{last.isoformat()}"
    return _document(svc, "yearly", figures, fmt, lang, stem)


def retention(
    svc: Service,
    *,
    by: Caller,
    start: str | date | None = None,
    end: str | date | None = None,
    fmt: str = "html",
    lang: str | None = None,
) -> Document:
    """Per store and rule: the oldest record against the limit, purges per month (from
    ``start``'s month; default the last twelve), holds, troubled sweeps, as of the end of
    ``end`` (default now); ``flagged`` names the rules behind by more than a sweep interval."""
    _ops(by)
    fmt, lang = _checked(fmt, lang, svc)
    first = _day(start, "from") if start is not None else None
    as_of = None
    if end is not None:
        as_of = datetime.combine(_day(end, "to") + timedelta(days=1), time(), UTC)
        as_of = min(as_of, datetime.now(UTC))
    if first is not None and as_of is not None and first > as_of.date():
        raise InvalidInput("the period ends before it starts", "from", "to")
    with svc.session():
        pass  # the ledger's schema, before the report reads it
    figures = retention_report.retention(svc.rt, as_of=as_of, first_month=first)
    stem = f"dsr-retention-{figures.as_of.date().isoformat()}"
    doc = _document(svc, "retention", figures, fmt, lang, stem)
    doc.flagged = [r.rule for r in figures.flagged]
    return doc
