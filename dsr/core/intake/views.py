"""The public JSON shape of requests (docs/DESIGN.md: times ISO 8601 UTC), defined once.

The models below are what ``dsr ... --json`` prints and what the HTTP API publishes in its
OpenAPI schema; every request the doors show is built through them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from dsr.core.identity import candidates, identifiers
from dsr.core.ledger.models import (
    ConnectorTask,
    Notice,
    NoticeStatus,
    Outbox,
    OutboxStatus,
    Request,
    RequestCandidate,
    RequestIdentifier,
    RequestKind,
    RequestStatus,
    TaskStatus,
)
from dsr.core.replies.outbox import REPLY


class TaskOut(BaseModel):
    connector: str
    status: TaskStatus
    records: int
    stage: int
    attempts: int
    error: str | None


class ReplyOut(BaseModel):
    status: OutboxStatus
    message_id: str
    path: str | None = Field(description="Our copy of the e-mail on the server (ops only).")
    sent_at: str | None


class NoticeOut(BaseModel):
    """A third party's notice of a rectify or erase (no personal data)."""

    recipient: str
    recipient_id: str
    channel: str | None
    status: NoticeStatus
    reason: str | None
    records: int
    attempt: int
    error: str | None
    reply_by: str | None
    sent_at: str | None


class IdentifierOut(BaseModel):
    """One identifier the request searches by; the value is masked."""

    kind: str
    provenance: Literal["verified", "derived", "former", "asserted"]
    value: str
    source: str


class MatchedOut(BaseModel):
    kind: str
    value: str


class CandidateOut(BaseModel):
    """A record whose owner is uncertain: it waits for a staff decision (``ref`` names it)."""

    ref: str
    store: str
    table: str
    key: str
    matched: list[MatchedOut]
    reason: Literal["unproven", "other_account", "shared_identifier", "excluded"]
    why: str
    decision: Literal["included", "excluded"] | None
    decided_by: str | None
    # False: only unproven identifiers hit it; it is listed for staff (low priority) but never
    # holds the reply back (dsr.core.pipeline.tasks.fan_in).
    blocks_reply: bool = True


class ComplaintOut(BaseModel):
    """A complaint's text and, once staff answered, the answer."""

    text: str
    answer_template: str | None
    answer_note: str | None
    answered_by: str | None
    answered_at: str | None


class RequestOut(BaseModel):
    """A request (docs/DESIGN.md, the JSON contract); times are ISO 8601 UTC."""

    id: str
    kind: RequestKind
    status: RequestStatus
    jurisdiction: str
    language: str
    email: str
    received_at: str
    ack_due_at: str | None
    acknowledged_at: str | None
    due_at: str
    completed_at: str | None
    verified_by: str | None
    late: bool
    attention: str | None
    identifiers: list[IdentifierOut]
    candidates: list[CandidateOut]
    tasks: list[TaskOut]
    notices: list[NoticeOut] = []
    reply: ReplyOut | None
    duplicate_of: str | None = None  # filing only: the identical open request this joined


class AuditOut(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    detail: dict[str, Any]


class RequestDetail(RequestOut):
    """A request with who filed it and its audit trail."""

    filed_by: str | None
    audit: list[AuditOut]
    complaint: ComplaintOut | None = None
    # Awaiting its code: how many the subject may still try (its own limit, its mailbox's).
    attempts_left: int | None = None


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def request_json(session: Session, request: Request) -> dict[str, Any]:
    return request_view(session, request).model_dump(exclude_unset=True)


def requests_json(session: Session, requests: Sequence[Request]) -> list[dict[str, Any]]:
    return [v.model_dump(exclude_unset=True) for v in request_views(session, requests)]


def request_view(session: Session, request: Request) -> RequestOut:
    return request_views(session, [request])[0]


def request_views(session: Session, requests: Sequence[Request]) -> list[RequestOut]:
    """Many requests in six queries, not five more per request (``dsr list``, the API)."""
    ids = [r.id for r in requests]
    tasks: dict[str, list[ConnectorTask]] = {i: [] for i in ids}
    notices: dict[str, list[Notice]] = {i: [] for i in ids}
    idents: dict[str, list[RequestIdentifier]] = {i: [] for i in ids}
    found: dict[str, list[RequestCandidate]] = {i: [] for i in ids}
    replies: dict[str | None, Outbox] = {}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for ident in session.exec(
            select(RequestIdentifier)
            .where(col(RequestIdentifier.request_id).in_(chunk))
            .order_by(col(RequestIdentifier.id))
        ):
            idents[ident.request_id].append(ident)
        for cand in session.exec(
            select(RequestCandidate)
            .where(col(RequestCandidate.request_id).in_(chunk))
            .order_by(col(RequestCandidate.id))
        ):
            found[cand.request_id].append(cand)
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
    return [
        RequestOut.model_validate(
            _shape(r, tasks[r.id], replies.get(r.id), notices[r.id], idents[r.id], found[r.id])
        )
        for r in requests
    ]


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
    request: Request,
    tasks: list[ConnectorTask],
    reply: Outbox | None,
    notices: list[Notice],
    idents: list[RequestIdentifier],
    found: list[RequestCandidate],
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
        "identifiers": identifiers.view(identifiers.strongest_first(idents)),
        "candidates": candidates.view(found),
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
