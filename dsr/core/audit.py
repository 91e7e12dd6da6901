"""The audit log: an append-only, hash-chained record of every state change.

Events carry ids, statuses and counts, never raw personal data. Appends lock the one
``audit_head`` row, so concurrent workers extend the chain one at a time and it never forks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlmodel import Session, select

from dsr.core.models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64
_PENDING = "dsr.core.audit.pending"


def _digest(
    prev: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    request_id: str | None,
    detail: dict[str, Any],
) -> str:
    body = json.dumps(
        [prev, seq, at.isoformat(), actor, action, request_id, detail],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(
    session: Session, *, actor: str, action: str, request_id: str | None = None, **detail: Any
) -> None:
    """Add one event to the chain when the caller's transaction commits.

    The chain's tip is locked only in ``before_commit``, as the transaction's last step: a
    transaction holding that lock takes no other, so it can never be part of a deadlock (taking
    it first, then a request row, deadlocked against a transaction doing the opposite).
    """
    pending = session.info.setdefault(_PENDING, [])
    pending.append((utcnow().replace(microsecond=0), actor, action, request_id, detail))


def _append(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    head = session.exec(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
    for at, actor, action, request_id, detail in pending:
        seq = head.seq + 1
        digest = _digest(head.hash, seq, at, actor, action, request_id, detail)
        session.add(
            AuditEvent(
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                request_id=request_id,
                detail=detail,
                prev_hash=head.hash,
                hash=digest,
            )
        )
        head.seq, head.hash = seq, digest
    session.add(head)
    session.flush()


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # SQLAlchemy fires before_commit for a SAVEPOINT's release too; the chain is extended once,
    # by the real commit, so its lock stays the transaction's last (and rolled-back savepoints
    # cannot take already-appended events with them).
    if not session.in_nested_transaction():
        _append(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)  # events of a rolled-back transaction never happened


@dataclass
class ChainReport:
    ok: bool
    events: int
    first_broken: int | None = None
    problem: str | None = None


def verify(session: Session) -> ChainReport:
    """Recompute every link; report the first event whose hash or back-link does not match."""
    prev, count = GENESIS, 0
    for ev in session.exec(select(AuditEvent).order_by(AuditEvent.seq)):  # type: ignore[arg-type]
        count += 1
        if ev.prev_hash != prev:
            return ChainReport(False, count, ev.seq, "previous-hash link does not match")
        expected = _digest(prev, ev.seq, ev.at, ev.actor, ev.action, ev.request_id, ev.detail)
        if expected != ev.hash:
            return ChainReport(False, count, ev.seq, "event content does not match its hash")
        prev = ev.hash
    head = session.get(AuditHead, 1)
    if head is not None and head.hash != prev:
        return ChainReport(False, count, head.seq, "chain tip does not match the last event")
    return ChainReport(True, count)


def events_for(session: Session, request_id: str) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(AuditEvent.seq)  # type: ignore[arg-type]
        )
    )
