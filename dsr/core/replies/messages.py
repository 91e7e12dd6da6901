"""Queue the e-mails a request produces (acknowledgement, code, ops alerts) in the outbox."""

from __future__ import annotations

from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

from sqlmodel import Session

from config.settings import Settings
from dsr.core.ledger.models import Request
from dsr.core.replies import not_me_links, outbox, status_links, templates
from dsr.core.runtime import steps


def context(request: Request, settings: Settings) -> templates.ReplyContext:
    # A request its subject filed at the privacy center: its e-mails carry the status link.
    follow = (
        status_links.status_url(request.id, settings)
        if status_links.filed_by_subject(request.owner)
        else None
    )
    return templates.ReplyContext(
        request_id=request.id,
        kind=request.kind,
        language=request.language,
        company=settings.company_name,
        received_at=request.received_at,
        due_at=request.due_at,
        changes=dict(request.changes or {}),
        subject_name=request.name,
        status_url=follow,
        vouched_by=request.verified_by if request.approved_by else None,
        approved_by=request.approved_by,
    )


def acknowledgement(
    session: Session,
    settings: Settings,
    request: Request,
    *,
    third_parties: list[str] | None = None,
) -> steps.Step:
    """Receipt confirmed to the subject; ``third_parties`` (names) will have to act on it."""
    ctx = replace(context(request, settings), not_me_url=not_me_links.url(settings, request.id))
    message = templates.render_acknowledgement(ctx, third_parties)
    return _queued(session, settings, request, "acknowledgement", request.email, message)


def verification_code(
    session: Session, settings: Settings, request: Request, code: str, *, attempt: int
) -> steps.Step:
    hours = max(1, settings.verification_ttl_seconds // 3600)
    ctx = replace(context(request, settings), not_me_url=not_me_links.url(settings, request.id))
    message = templates.render_verification(ctx, code, hours)
    return _queued(session, settings, request, f"verification:{attempt}", request.email, message)


def ops_alert(
    session: Session,
    settings: Settings,
    request: Request,
    what: str,
    stores: list[templates.StoreReport] | None = None,
    *,
    occasion: str | None = None,
) -> steps.Step:
    """One alert per (request, reason, occasion); ids and connector names only, no personal
    data. ``occasion`` tells apart a reason that can recur (a task failing again after retry)."""
    message = templates.render_ops_alert(context(request, settings), stores or [], what)
    purpose = f"ops:{what}" + (f":{occasion}" if occasion else "")
    # Written beside the ledger, not on the export disk: an alert about that disk being full
    # is e-mailed at once (it holds ids and store names only, nothing of the subject's).
    return _queued(
        session, settings, request, purpose, settings.ops_email, message, root=ops_mail(settings)
    )


def ops_mail(settings: Settings) -> Path:
    return settings.var_dir.resolve() / "ops-mail"


def reminder(
    session: Session, settings: Settings, request: Request, when: str, *, purpose: str
) -> steps.Step:
    """A deadline reminder to ops (``when``: due_soon, overdue, ack_overdue), once per purpose."""
    message = templates.render_reminder(context(request, settings), when)
    return _queued(session, settings, request, purpose, settings.ops_email, message)


def _queued(
    session: Session,
    settings: Settings,
    request: Request,
    purpose: str,
    recipient: str,
    message: EmailMessage,
    root: Path | None = None,
) -> steps.Step:
    row = outbox.queue(
        session,
        settings,
        request_id=request.id,
        purpose=purpose,
        recipient=recipient,
        message=message,
        root=root,
    )
    return steps.deliver(row.id)
