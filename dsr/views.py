"""The public JSON shape of requests (DESIGN.md: times ISO 8601 UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from dsr.dispatch import tasks_of
from dsr.models import Request
from dsr.outbox import REPLY, find


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def request_json(session: Session, request: Request) -> dict[str, Any]:
    reply = find(session, request.id, REPLY)
    return {
        "id": request.id,
        "kind": request.kind,
        "status": request.status,
        "jurisdiction": request.jurisdiction,
        "language": request.language,
        "email": request.email,
        "received_at": iso(request.received_at),
        "ack_due_at": iso(request.ack_due_at),
        "acknowledged_at": iso(request.acknowledged_at),
        "due_at": iso(request.due_at),
        "completed_at": iso(request.completed_at),
        "verified_by": request.verified_by,
        "late": request.late,
        "attention": request.attention,
        "tasks": [
            {"connector": t.connector, "status": t.status, "records": t.records,
             "stage": t.stage, "attempts": t.attempts, "error": t.error}
            for t in tasks_of(session, request.id)
        ],
        "reply": None if reply is None else {
            "status": reply.status, "message_id": reply.message_id, "path": reply.path,
            "sent_at": iso(reply.sent_at),
        },
    }
