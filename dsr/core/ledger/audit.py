"""The audit log: an append-only record of every state change, sealed into a hash chain.

Events carry ids, statuses and counts, never raw personal data. A transaction appends its events
without taking any lock (the database numbers them, ``seq``); a single sealer — the scheduler's
leader, every few seconds — then chains them in order: each sealed event gets its ``position``
in the chain and a hash over its content and the previous event's hash. Sealed events are
tamper-evident: ``verify`` names the first edited, reordered or missing one. An event is
unsealed only until the next sealing round; ``verify`` reports how many are and since when.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, event, func, insert, text, update
from sqlmodel import Session, col, select

from dsr.core.ledger.db import UnitOfWork
from dsr.core.ledger.models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64
SEALER_LOCK = 742002  # PostgreSQL advisory lock: one sealer at a time
_PENDING = "dsr.audit.pending"


def _digest(
    prev: str,
    position: int,
    at: datetime,
    actor: str,
    action: str,
    request_id: str | None,
    detail: dict[str, Any],
) -> str:
    body = json.dumps(
        [prev, position, at.isoformat(), actor, action, request_id, detail],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(
    session: Session, *, actor: str, action: str, request_id: str | None = None, **detail: Any
) -> None:
    """Add one event when the caller's transaction commits (and never if it rolls back)."""
    pending = session.info.setdefault(_PENDING, [])
    pending.append(
        {
            "at": utcnow().replace(microsecond=0),
            "actor": actor,
            "action": action,
            "request_id": request_id,
            "detail": detail,
        }
    )


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # SQLAlchemy fires before_commit for a SAVEPOINT's release too: events are written once, by
    # the real commit (a rolled-back savepoint cannot take already-written events with it).
    if session.in_nested_transaction():
        return
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.execute(insert(AuditEvent), pending)  # no lock: the sealer orders them later


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)  # events of a rolled-back transaction never happened


def seal(session: Session, *, limit: int = 5000) -> int:
    """Chain up to ``limit`` unsealed events, oldest first; how many were sealed.

    Only one sealer works at a time (an advisory lock on PostgreSQL; SQLite has one writer), so
    two scheduler leaders in a split second cannot fork the chain.
    """
    if session.get_bind().dialect.name == "postgresql":
        # Keyed by schema too: ledgers in other schemas of the same database seal on their own.
        got = session.execute(
            text("SELECT pg_try_advisory_xact_lock(:k, hashtext(current_schema()))"),
            {"k": SEALER_LOCK},
        )
        if not got.scalar():
            return 0
    head = session.exec(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
    events = session.exec(
        select(AuditEvent)
        .where(col(AuditEvent.position).is_(None))
        .order_by(col(AuditEvent.seq))
        .limit(limit)
    ).all()
    if not events:
        return 0
    rows = []
    for ev in events:
        position = head.seq + 1
        digest = _digest(head.hash, position, ev.at, ev.actor, ev.action, ev.request_id, ev.detail)
        rows.append({"_seq": ev.seq, "_pos": position, "_prev": head.hash, "_hash": digest})
        head.seq, head.hash = position, digest
    session.connection().execute(
        update(AuditEvent)
        .where(col(AuditEvent.seq) == bindparam("_seq"))
        .values(position=bindparam("_pos"), prev_hash=bindparam("_prev"), hash=bindparam("_hash")),
        rows,
    )
    session.add(head)
    return len(events)


def seal_all(uow: UnitOfWork, *, batch: int = 5000) -> int:
    """Seal every pending event, one short transaction per batch; how many were sealed."""
    total = 0
    while True:
        with uow() as session:
            sealed = seal(session, limit=batch)
        total += sealed
        if sealed < batch:
            return total


@dataclass
class ChainReport:
    ok: bool
    events: int
    first_broken: int | None = None
    problem: str | None = None
    unsealed: int = 0
    oldest_unsealed_at: str | None = None


def verify(session: Session, *, upto: int | None = None) -> ChainReport:
    """Recompute every link; report the first sealed event whose place, link or content is wrong.

    ``first_broken`` is the event's position in the chain. A deleted event shows as a gap, an
    edited one as a hash that no longer matches, a removed tail as a head that points further.
    With ``upto``, only the chain's first ``upto`` events are checked (a certificate's event and
    everything before it): what was sealed after it cannot change what it proves.
    """
    # The tip first, share-locked: a sealer committing halfway through this read would make a
    # sound chain look cut off (it needs the tip's row lock, so it waits for us instead).
    head = session.exec(
        select(AuditHead).where(AuditHead.id == 1).with_for_update(read=True)
    ).first()
    prev, expected = GENESIS, 1
    count = 0
    sealed = col(AuditEvent.position).is_not(None)
    upto_clause = col(AuditEvent.position) <= upto if upto is not None else sealed
    chain = session.exec(
        select(AuditEvent).where(sealed, upto_clause).order_by(col(AuditEvent.position))
    )
    for ev in chain:
        count += 1
        assert ev.position is not None
        if ev.position != expected:
            return ChainReport(False, count, expected, "an event is missing from the chain")
        if ev.prev_hash != prev:
            return ChainReport(False, count, ev.position, "previous-hash link does not match")
        digest = _digest(prev, ev.position, ev.at, ev.actor, ev.action, ev.request_id, ev.detail)
        if digest != ev.hash:
            return ChainReport(False, count, ev.position, "event content does not match its hash")
        prev, expected = digest, expected + 1
    if upto is not None:
        if count < upto:
            return ChainReport(False, count, count + 1, "an event is missing from the chain")
        return ChainReport(True, count)
    if head is not None and (head.hash != prev or head.seq != expected - 1):
        return ChainReport(False, count, expected, "chain tip does not match the last event")
    unsealed, oldest = session.exec(
        select(func.count(), func.min(AuditEvent.at)).where(col(AuditEvent.position).is_(None))
    ).one()
    return ChainReport(
        True,
        count,
        unsealed=int(unsealed),
        oldest_unsealed_at=oldest.isoformat() if oldest else None,
    )


def events_for(session: Session, request_id: str) -> list[AuditEvent]:
    """A request's events in the order they were written."""
    return list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.request_id == request_id)
            .order_by(col(AuditEvent.seq))
        )
    )
