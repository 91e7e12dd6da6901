"""Erasures deferred record by record: rows still needed (an order not yet delivered).

The erasure's connector reports them; they are kept here with the identifiers that find them
again, and the retention sweep of that store (``dsr purge``, the nightly job) runs the erasure
again for exactly those records: each one no longer needed is erased then, the rest wait.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from connectors.base import Action, Match, Operation, Outcome, TaskResult
from dsr.core.identity.scope import KeysOnly
from dsr.core.ledger import audit, holds, paths
from dsr.core.ledger.db import changed, session_scope
from dsr.core.ledger.models import ErasureDeferral, Request, utcnow
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.steps import Step
from dsr.identity import Identity


def record(
    session: Session,
    request_id: str,
    connector: str,
    deferred: Sequence[Match],
    outcomes: Sequence[Outcome],
) -> int:
    """Keep the records an erasure had to defer (once each)."""
    reasons = {o.table: o.reason or "deferred" for o in outcomes if o.action == Action.DEFERRED}
    known = {
        (d.table_name, d.record_key)
        for d in session.exec(
            select(ErasureDeferral).where(
                ErasureDeferral.request_id == request_id, ErasureDeferral.connector == connector
            )
        )
    }
    now = utcnow()
    for match in deferred:
        if (match.table, match.key) in known:
            continue
        session.add(
            ErasureDeferral(
                request_id=request_id,
                connector=connector,
                table_name=match.table,
                record_key=match.key,
                reason=reasons.get(match.table, "deferred")[:500],
                search=[[k, v] for k, v in (*match.matched, *match.owner)],
                created_at=now,
            )
        )
    return len(deferred)


def proven(session: Session, connector: str, emails: set[str]) -> frozenset[tuple[str, str]]:
    """Records an earlier erasure, verified by one of ``emails``, admitted and had to defer:
    they were proven the subject's then (the account they hung on may be gone since)."""
    if not emails:
        return frozenset()
    rows = session.exec(
        select(ErasureDeferral.table_name, ErasureDeferral.record_key)
        .join(Request, col(Request.id) == col(ErasureDeferral.request_id))
        .where(
            ErasureDeferral.connector == connector,
            col(ErasureDeferral.done_at).is_(None),
            col(Request.verified_email).in_(sorted(emails)),
        )
    ).all()
    return frozenset((table, key) for table, key in rows)


@dataclass
class Finished:
    """What a pass over a store's deferred erasures did; ``follow``: the steps to send."""

    connector: str
    done: int = 0
    waiting: int = 0
    follow: list[Step] = field(default_factory=list)


# What else the records' erasure brings (the partners' notices, the subject's follow-up), in the
# transaction that marks them done: (session, request id, store's result, one table per record).
OnErased = Callable[[Session, str, TaskResult, list[str]], list[Step]]


def complete(
    rt: Runtime, connector: str, *, now: datetime | None = None, on_erased: OnErased | None = None
) -> Finished:
    """Run each deferred erasure of ``connector`` again for its records only; record the ones
    now erased (once: a conditional update that one sweep wins) and call ``on_erased`` for
    them in the same transaction. Held subjects are skipped. No ledger transaction is open
    while the store works."""
    now = now or utcnow()
    report = Finished(connector)
    store = rt.connectors.get(connector)
    if store is None:
        return report
    with session_scope(rt.db_url) as session:
        rows = session.exec(
            select(ErasureDeferral).where(
                ErasureDeferral.connector == connector, col(ErasureDeferral.done_at).is_(None)
            )
        ).all()
        groups: dict[str, list[ErasureDeferral]] = {}
        for row in rows:
            groups.setdefault(row.request_id, []).append(row)
        work = []
        for request_id, items in groups.items():
            search = Identity()
            for row in items:
                for kind, value in row.search or []:
                    search.add(kind, [value])
            if holds.matching(session, search, connector, now) is not None:
                report.waiting += len(items)
                continue
            keys = frozenset((r.table_name, r.record_key) for r in items)
            work.append((request_id, [r.id for r in items], KeysOnly(search, keys)))
    for request_id, ids, policy in work:
        staging = paths.staging(rt.settings.resolved_export_dir, request_id, connector)
        result = store.apply(Operation.ERASE, policy, staging=staging, now=now)
        still = {(m.table, m.key) for m in result.deferred}
        with session_scope(rt.db_url) as session:
            tables: list[str] = []
            for row_id in ids:
                item = session.get(ErasureDeferral, row_id)
                if item is None or item.done_at is not None:
                    continue
                if (item.table_name, item.record_key) in still:
                    report.waiting += 1
                    continue
                # A concurrent sweep may finish the same record: the one that marks it tells.
                if changed(
                    session,
                    update(ErasureDeferral)
                    .where(
                        col(ErasureDeferral.id) == row_id, col(ErasureDeferral.done_at).is_(None)
                    )
                    .values(done_at=now, search=None),
                ):
                    tables.append(item.table_name)
            if tables:
                audit.record(
                    session,
                    actor="scheduler",
                    action="deferred_erasure_completed",
                    request_id=request_id,
                    connector=connector,
                    records=len(tables),
                )
                if on_erased is not None:
                    report.follow += on_erased(session, request_id, result, tables)
            report.done += len(tables)
    return report
