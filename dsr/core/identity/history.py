"""Identity history: what an account was known by before a rectify changed it.

When a rectify replaces an identifier (a phone, an e-mail) in a store, the old value is kept as
a *former* identifier, linked to the account identifiers the record carried after the change
(its customer id, its new e-mail). A later request that trusts one of those links searches under
the former value too, so records filed under it (calls from the old number) stay in scope. An
erasure deletes the history linked to the erased subject.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, delete, or_
from sqlmodel import Session, col, select

from connectors.base import IdentifierChange, Pair
from dsr.core.ledger.models import IdentityHistory, utcnow
from dsr.identity import Identity

_CHUNK = 500


def record(
    session: Session, request_id: str, connector: str, changes: Iterable[IdentifierChange]
) -> int:
    """Keep the old value of every replaced identifier, one row per account link."""
    now = utcnow()
    count = 0
    for change in changes:
        links = change.account or ((change.kind, change.new),)
        for link_kind, link_value in links:
            session.add(
                IdentityHistory(
                    kind=change.kind,
                    value=change.old,
                    link_kind=link_kind,
                    link_value=link_value,
                    connector=connector,
                    table_name=change.table,
                    record_key=change.key,
                    request_id=request_id,
                    changed_at=now,
                )
            )
            count += 1
    return count


def _linked(session: Session, pairs: set[Pair]) -> list[IdentityHistory]:
    by_kind: dict[str, list[str]] = {}
    for kind, value in pairs:
        by_kind.setdefault(kind, []).append(value)
    found: list[IdentityHistory] = []
    for kind, values in by_kind.items():
        for i in range(0, len(values), _CHUNK):
            found += session.exec(
                select(IdentityHistory).where(
                    IdentityHistory.link_kind == kind,
                    col(IdentityHistory.link_value).in_(values[i : i + _CHUNK]),
                )
            ).all()
    return found


def former(session: Session, trusted: Identity) -> set[Pair]:
    """Former identifiers of the accounts ``trusted`` reaches, chains followed (an e-mail
    changed twice), minus what is already trusted."""
    known = {(k, v) for k, values in trusted.values.items() for v in values}
    frontier = set(known)
    out: set[Pair] = set()
    while frontier:
        new = {(row.kind, row.value) for row in _linked(session, frontier)} - known
        out |= new
        known |= new
        frontier = new
    return out


def erase(session: Session, pairs: set[Pair]) -> int:
    """Delete the history linked to these identifiers (the erased subject's); rows deleted."""
    if not pairs:
        return 0
    deleted = 0
    items = sorted(pairs)
    for i in range(0, len(items), _CHUNK):
        chunk = items[i : i + _CHUNK]
        result = session.execute(
            delete(IdentityHistory).where(
                or_(
                    *(
                        and_(
                            col(IdentityHistory.link_kind) == kind,
                            col(IdentityHistory.link_value) == value,
                        )
                        for kind, value in chunk
                    )
                )
            )
        )
        deleted += int(getattr(result, "rowcount", 0) or 0)
    return deleted
