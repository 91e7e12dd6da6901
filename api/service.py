"""What the JSON API and the web page both do: one transaction, commit, then enqueue.

Core functions return steps; they are sent only after the session commits, so a message never
names a row that does not exist (DESIGN.md: enqueue after commit).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select
from starlette.requests import HTTPConnection

from api.deps import enqueue_after_commit
from dsr import audit, intake, tasks, verification
from dsr.bundle import bundle_path
from dsr.db import session_scope
from dsr.errors import NotFound
from dsr.models import OPEN_REQUEST, AuditEvent, Request
from dsr.runtime import Runtime
from dsr.views import iso, request_json

_REQUEST_ID = re.compile(r"[0-9a-f]{32}")  # new_id(): uuid4 hex


def load(session: Session, request_id: str) -> Request:
    """The request, or NotFound (also for ids that cannot be ours, before any query)."""
    request = session.get(Request, request_id) if _REQUEST_ID.fullmatch(request_id) else None
    if request is None:
        raise NotFound("no such request")
    return request


def file_request(conn: HTTPConnection, rt: Runtime, sub: intake.Submission) -> dict[str, Any]:
    """Validate completely (bad input writes nothing), write, commit, then enqueue."""
    intake.validate(rt, sub)
    with session_scope(rt.db_url) as session:
        request, follow = intake.submit(session, rt, sub)
        session.commit()
        data = request_json(session, request)
    enqueue_after_commit(conn, follow, data["id"])
    return data


def verify(conn: HTTPConnection, rt: Runtime, request_id: str, code: str) -> dict[str, Any]:
    with session_scope(rt.db_url) as session:
        load(session, request_id)
        follow = verification.verify(session, rt, request_id, code)
        session.commit()
        data = request_json(session, load(session, request_id))
    enqueue_after_commit(conn, follow, request_id)
    return data


def retry(conn: HTTPConnection, rt: Runtime, request_id: str, *, by: str) -> dict[str, Any]:
    with session_scope(rt.db_url) as session:
        load(session, request_id)
        follow = tasks.retry(session, rt, request_id, by=by)
        session.commit()
        data = request_json(session, load(session, request_id))
    enqueue_after_commit(conn, follow, request_id)
    return data


def listing(session: Session, *, status: str | None = None, overdue: bool = False,
            limit: int = 100) -> list[Request]:
    """Requests newest first; ``overdue``: open ones past ``due_at`` (as ``dsr list``)."""
    query = select(Request).order_by(col(Request.received_at).desc()).limit(limit)
    if status:
        query = query.where(Request.status == status)
    if overdue:
        query = query.where(col(Request.status).in_(OPEN_REQUEST),
                            col(Request.due_at) < datetime.now(UTC))
    return list(session.exec(query))


def filed_by(session: Session, request_id: str) -> str | None:
    """The audit actor who filed the request (``api:<key name>`` for staff)."""
    return session.exec(select(AuditEvent.actor).where(
        AuditEvent.request_id == request_id, AuditEvent.action == "received",
    ).order_by(col(AuditEvent.seq)).limit(1)).first()


def detail(session: Session, request: Request) -> dict[str, Any]:
    """The request, who filed it, and its audit trail (ids and counts only, no personal data)."""
    data = request_json(session, request)
    data["filed_by"] = filed_by(session, request.id)
    data["audit"] = [{"seq": e.seq, "at": iso(e.at), "actor": e.actor, "action": e.action,
                      "detail": e.detail} for e in audit.events_for(session, request.id)]
    return data


def bundle_of(rt: Runtime, request_id: str) -> Path:
    """The access bundle on disk, or NotFound when there is none (yet)."""
    path = bundle_path(rt.settings.resolved_export_dir, request_id)
    if not path.is_file():
        raise NotFound("no export for this request")
    return path


def has_bundle(rt: Runtime, request_id: str) -> bool:
    return bundle_path(rt.settings.resolved_export_dir, request_id).is_file()


def record_download(rt: Runtime, request_id: str, *, actor: str) -> None:
    """Who downloaded a subject's data goes in the audit log."""
    with session_scope(rt.db_url) as session:
        audit.record(session, actor=actor, action="export_downloaded", request_id=request_id)
