"""Complaints about the use of personal data: filed like any request, answered by staff.

The policies we serve promise a complaint process (receive, classify, answer within 7 to 15
days). A complaint searches no store, so it goes straight to the staff queue (status
``in_progress``, no connector task) and is not held back for the one-time code: the code guards
*disclosure*, and filing a complaint discloses nothing. Its answer goes only to the address it
was filed from — where the acknowledgement went — so a complaint filed in someone else's name is
answered to that person, never to whoever typed it. Staff answer from a template in
``config/templates/complaint/<name>.<lang>.txt`` with an optional note; the reply then leaves
through the outbox like any other (late replies flagged, watchdog reminders before ``due_at``).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound
from sqlalchemy import update
from sqlmodel import Session, col

from dsr.core.intake.views import iso
from dsr.core.ledger import audit
from dsr.core.ledger.db import changed
from dsr.core.ledger.models import (
    LANGUAGES,
    Complaint,
    Request,
    RequestKind,
    RequestStatus,
    load_request,
    utcnow,
)
from dsr.core.replies import messages, outbox, templates
from dsr.core.runtime import steps
from dsr.core.runtime.process import Runtime
from dsr.errors import InvalidInput, NoteRequired, StateConflict
from dsr.identity import BIDI_CONTROLS, has_control, visible

ANSWERS_DIR = templates.TEMPLATE_DIR / "complaint"
MAX_TEXT = 5000
MAX_NOTE = 2000
NOTE_REQUIRED = "{# note required"  # a template whose text points to the staff note starts so
_KEEP = "\n\t"  # the only control characters a complaint or a note may hold


def clean_text(value: str | None, *, what: str, limit: int) -> str:
    """``value`` as the ledger keeps it (NFC, CRLF as LF, trimmed), or InvalidInput."""
    text = unicodedata.normalize("NFC", (value or "").replace("\r\n", "\n").replace("\r", "\n"))
    text = text.strip()
    if not visible(text):  # only spaces, zero-width or format characters is empty too
        raise InvalidInput(f"the {what} is empty")
    if set(text) & BIDI_CONTROLS:
        raise InvalidInput(f"the {what} contains a bidirectional override character")
    if len(text) > limit:
        raise InvalidInput(f"the {what} is longer than {limit} characters")
    if has_control(text, keep=_KEEP):
        raise InvalidInput(f"the {what} contains control characters")
    return text


def answer_templates(directory: Path = ANSWERS_DIR) -> list[str]:
    """The answers staff may choose: names with a file in every language."""
    names = {p.name.split(".", 1)[0] for p in directory.glob("*.txt")}
    return sorted(
        n for n in names if all((directory / f"{n}.{lang}.txt").is_file() for lang in LANGUAGES)
    )


def needs_note(template: str, directory: Path = ANSWERS_DIR) -> bool:
    """Whether the template's text points to a staff note (it starts with NOTE_REQUIRED)."""
    return any(
        (directory / f"{template}.{lang}.txt").read_text(encoding="utf-8").startswith(NOTE_REQUIRED)
        for lang in LANGUAGES
    )


def open_complaint(
    session: Session, request: Request, text: str, *, verified_by: str | None = None
) -> list[steps.Step]:
    """Queue a just-filed complaint for staff; nothing is enqueued (no store is searched)."""
    request.status = RequestStatus.IN_PROGRESS
    if verified_by is not None:  # staff vouched for the subject; recorded like any request
        request.verified_email, request.verified_by = request.email, verified_by
        audit.record(session, actor=verified_by, action="verified_by_staff", request_id=request.id)
    session.add(request)
    session.add(Complaint(request_id=request.id, text=text))
    audit.record(session, actor="system", action="complaint_queued", request_id=request.id)
    return []


def of(session: Session, request_id: str) -> Complaint | None:
    return session.get(Complaint, request_id)


def answer(
    session: Session,
    rt: Runtime,
    request_id: str,
    *,
    template: str,
    by: str,
    note: str | None = None,
    now: datetime | None = None,
) -> list[steps.Step]:
    """Staff answer a complaint: the reply is queued to the filing address; once, whoever wins."""
    request = load_request(session, request_id)
    if request.kind != RequestKind.COMPLAINT:
        raise StateConflict(f"request {request_id} is {request.kind}, not a complaint")
    known = answer_templates()
    if template not in known:
        raise InvalidInput(f"unknown answer template {template!r} ({', '.join(known)})")
    note = clean_text(note, what="note", limit=MAX_NOTE) if note and note.strip() else None
    if note is None and needs_note(template):
        raise NoteRequired(f"the answer template {template!r} needs a note", "note")
    complaint = of(session, request_id)
    assert complaint is not None, "a complaint request always has its complaint row"
    now = now or utcnow()
    won = changed(
        session,
        update(Request)
        .where(col(Request.id) == request_id, col(Request.status) == RequestStatus.IN_PROGRESS)
        .values(status=RequestStatus.REPLYING, updated_at=now),
    )
    if not won:
        raise StateConflict(f"complaint {request_id} is {request.status}, not waiting for staff")
    complaint.answer_template, complaint.answer_note = template, note
    complaint.answered_by, complaint.answered_at = by, now
    session.add(complaint)
    message = render_answer(messages.context(request, rt.settings), template, note)
    row = outbox.queue(
        session,
        rt.settings,
        request_id=request_id,
        purpose=outbox.REPLY,
        recipient=request.email,  # the filing address only (see the module docstring)
        message=message,
    )
    audit.record(
        session,
        actor=by,
        action="complaint_answered",
        request_id=request_id,
        template=template,
        note=note is not None,
    )
    return [steps.deliver(row.id)]


@lru_cache(maxsize=1)
def _answers() -> Environment:
    # Plain text: the e-mail's HTML part escapes the rendered answer like any other value.
    return Environment(
        loader=FileSystemLoader(ANSWERS_DIR),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_answer(ctx: templates.ReplyContext, template: str, note: str | None) -> EmailMessage:
    """The answer e-mail in the subject's language: the chosen template, then the note."""
    lang = templates.language_of(ctx)
    try:
        body = _answers().get_template(f"{template}.{lang}.txt")
    except TemplateNotFound:
        raise InvalidInput(f"unknown answer template {template!r}") from None
    answer_text = body.render(ctx=ctx, company=ctx.company, lang=lang).strip()
    return templates.render_complaint_answer(ctx, answer_text, note)


def to_json(complaint: Complaint | None) -> dict[str, Any] | None:
    """The complaint as staff see it (``dsr status``, the API, the staff page)."""
    if complaint is None:
        return None
    return {
        "text": complaint.text,
        "answer_template": complaint.answer_template,
        "answer_note": complaint.answer_note,
        "answered_by": complaint.answered_by,
        "answered_at": iso(complaint.answered_at),
    }
