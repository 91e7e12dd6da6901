"""The public JSON shape of requests (DESIGN.md: times ISO 8601 UTC)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from dsr.core.models import ConnectorTask, Notice, Outbox, Request
from dsr.core.outbox import REPLY


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def request_json(session: Session, request: Request) -> dict[str, Any]:
    return requests_json(session, [request])[0]


def requests_json(session: Session, requests: Sequence[Request]) -> list[dict[str, Any]]:
    """Many requests in four queries, not three more per request (``dsr list``, the API)."""
    ids = [r.id for r in requests]
    tasks: dict[str, list[ConnectorTask]] = {i: [] for i in ids}
    notices: dict[str, list[Notice]] = {i: [] for i in ids}
    replies: dict[str | None, Outbox] = {}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for task in session.exec(
            select(ConnectorTask)
            .where(col(ConnectorTask.request_id).in_(chunk))
            .order_by(col(ConnectorTask.stage), col(ConnectorTask.connector))
        ):
            tasks[task.request_id].append(task)
        for notice in session.exec(
            select(Notice).where(col(Notice.request_id).in_(chunk)).order_by(col(Notice.name))
        ):
            notices[notice.request_id].append(notice)
        replies.update(
            (row.request_id, row)
            for row in session.exec(
                select(Outbox).where(col(Outbox.request_id).in_(chunk), Outbox.purpose == REPLY)
            )
        )
    return [_shape(r, tasks[r.id], replies.get(r.id), notices[r.id]) for r in requests]


def notice_json(n: Notice) -> dict[str, Any]:
    """One third party's notice: whom, how, in what state (no personal data)."""
    return {
        "recipient": n.name,
        "recipient_id": n.recipient,
        "channel": n.channel,
        "status": n.status,
        "reason": n.reason,
        "records": sum(len(r.get("references") or []) for r in n.records),
        "attempt": n.attempt,
        "error": n.error,
        "reply_by": iso(n.reply_by),
        "sent_at": iso(n.sent_at),
    }


def _shape(
    request: Request, tasks: list[ConnectorTask], reply: Outbox | None, notices: list[Notice]
) -> dict[str, Any]:
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
            {
                "connector": t.connector,
                "status": t.status,
                "records": t.records,
                "stage": t.stage,
                "attempts": t.attempts,
                "error": t.error,
            }
            for t in tasks
        ],
        "notices": [notice_json(n) for n in notices],
        "reply": None
        if reply is None
        else {
            "status": reply.status,
            "message_id": reply.message_id,
            "path": reply.path,
            "sent_at": iso(reply.sent_at),
        },
    }
