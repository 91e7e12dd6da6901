"""One subject, one request at a time.

An identical request (same kind, same normalised identifiers and changes) for a subject that
already has one open joins it: one request, one reply. A different request for the same e-mail
address waits in ``verified`` while another is being carried out in the stores, and re-drive
dispatches it once that one has moved on, so two requests never act on a subject's data at once
and their replies never contradict each other. Both checks run under a lock on the subject
(a PostgreSQL advisory lock; SQLite serialises writers already), so simultaneous submissions
see each other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

from connectors.base import Action, TaskResult
from dsr.core.ledger import audit
from dsr.core.ledger.models import (
    OPEN_REQUEST,
    ConnectorTask,
    Request,
    RequestKind,
    RequestStatus,
    TaskStatus,
)
from dsr.core.runtime import steps


class Submitted(Protocol):
    """What makes two requests identical, read from an intake ``Submission``.

    A protocol, not the intake class: intake sits above the pipeline and files through this
    module, so importing it back (even for types only) would point an arrow up and close a cycle.
    """

    @property
    def kind(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def changes(self) -> dict[str, str]: ...


def key(sub: Submitted, secret: str) -> str:
    """A keyed hash of what makes two requests identical (no personal data in the index)."""
    body = json.dumps(
        [sub.kind, sub.email, sub.phone, sub.name, sorted((sub.changes or {}).items())],
        ensure_ascii=False,
    )
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def lock(session: Session, name: str) -> None:
    """Serialise this transaction with every other one locking ``name``, until it ends."""
    if session.get_bind().dialect.name == "postgresql":
        number = int(name[:15], 16)  # 60 bits: fits PostgreSQL's bigint
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:n)"), {"n": number})


def join(
    session: Session, sub: Submitted, secret: str, *, actor: str, owner: str | None = None
) -> Request | None:
    """The open request an identical submission joins (recorded), or None to file a new one.

    Only a request of the same ``owner`` is joined: joining another key's request would show
    that key's request to the caller (least privilege; README, Security).
    """
    subject = key(sub, secret)
    lock(session, subject)
    existing = session.exec(
        select(Request)
        .where(
            Request.subject_key == subject,
            col(Request.status).in_(OPEN_REQUEST),
            col(Request.owner).is_not_distinct_from(owner),
        )
        .order_by(col(Request.received_at))
    ).first()
    if existing is not None:
        audit.record(session, actor=actor, action="duplicate_joined", request_id=existing.id)
    return existing


def busy_with_other(session: Session, request: Request, secret: str) -> bool:
    """Whether another request for the same address is being carried out in the stores now."""
    lock(session, hmac.new(secret.encode(), request.email.encode(), hashlib.sha256).hexdigest())
    other = session.exec(
        select(Request.id).where(
            Request.email == request.email,
            Request.id != request.id,
            Request.status == RequestStatus.IN_PROGRESS,
        )
    ).first()
    return other is not None


def waiting(session: Session, request: Request) -> list[steps.Step]:
    """Dispatch steps for the requests that waited on ``request`` (it has left the stores)."""
    ids = session.exec(
        select(Request.id).where(
            Request.email == request.email,
            Request.id != request.id,
            Request.status == RequestStatus.VERIFIED,
        )
    ).all()
    return [steps.dispatch(i) for i in ids]


def already_erased(
    session: Session, request: Request, connector: str, result: TaskResult
) -> TaskResult:
    """An erasure that found nothing in a store another erasure of the same address emptied
    says so (``already_erased:<request>:<date>``), instead of a bare "no data found"."""
    earlier = session.exec(
        select(Request.id, ConnectorTask.finished_at)
        .join(ConnectorTask, col(ConnectorTask.request_id) == col(Request.id))
        .where(
            Request.email == request.email,
            Request.kind == RequestKind.ERASE,
            Request.id != request.id,
            ConnectorTask.connector == connector,
            ConnectorTask.status == TaskStatus.DONE,
            col(ConnectorTask.records) > 0,
        )
        .order_by(col(ConnectorTask.finished_at).desc())
    ).first()
    if earlier is None:
        return result
    other, when = earlier
    reason = f"already_erased:{other}:{when.date().isoformat() if when else ''}"
    for outcome in result.outcomes:
        if outcome.action == Action.NOT_FOUND and outcome.reason is None:
            outcome.reason = reason
    return result
