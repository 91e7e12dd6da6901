"""The identifiers a request searches by, each with its provenance (``request_identifiers``).

``verified``: the address the one-time code went to, or every identifier of a submission staff
vouched for; ``derived``: read from a record already in scope; ``former``: an identifier such an
account had before a rectify; ``asserted``: typed in, not proven. A value seen again with a
stronger provenance is upgraded, never downgraded. Values are stored normalised, with a keyed
hash (the row's identity, kept when the value is erased) and a masked form for display.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from dsr.core.identity.masking import mask
from dsr.core.ledger.models import TRUSTED, Provenance, RequestIdentifier, utcnow
from dsr.identity import Identity

_RANK = {
    Provenance.ASSERTED: 1,
    Provenance.DERIVED: 2,
    Provenance.FORMER: 2,
    Provenance.VERIFIED: 3,
}


def value_hash(secret: str, kind: str, value: str) -> str:
    """Keyed hash naming one identifier (useless without the key)."""
    return hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def of(session: Session, request_id: str) -> list[RequestIdentifier]:
    """A request's identifiers, strongest first."""
    return strongest_first(
        session.exec(
            select(RequestIdentifier)
            .where(RequestIdentifier.request_id == request_id)
            .order_by(col(RequestIdentifier.id))
        )
    )


def strongest_first(rows: Iterable[RequestIdentifier]) -> list[RequestIdentifier]:
    """Verified, then derived and former, then asserted; in the order they were added."""
    return sorted(rows, key=lambda r: -_RANK.get(Provenance(r.provenance), 0))


def as_identity(rows: Iterable[RequestIdentifier], provenances: Sequence[str]) -> Identity:
    """The values of the rows with one of ``provenances`` (erased values left out)."""
    out = Identity()
    for row in rows:
        if row.provenance in provenances and row.value:
            out.add(row.kind, [row.value])
    return out


def trusted(rows: Iterable[RequestIdentifier]) -> Identity:
    return as_identity(rows, TRUSTED)


def asserted(rows: Iterable[RequestIdentifier]) -> Identity:
    return as_identity(rows, (Provenance.ASSERTED,))


def add(
    session: Session,
    secret: str,
    request_id: str,
    pairs: Iterable[tuple[str, str]],
    provenance: Provenance,
    source: str,
) -> int:
    """Record identifiers (or upgrade their provenance); how many rows were new or stronger."""
    count = 0
    for kind, value in pairs:
        digest = value_hash(secret, kind, value)
        row = session.exec(
            select(RequestIdentifier).where(
                RequestIdentifier.request_id == request_id,
                RequestIdentifier.kind == kind,
                RequestIdentifier.value_hash == digest,
            )
        ).first()
        if row is None:
            fresh = RequestIdentifier(
                request_id=request_id,
                kind=kind,
                value=value,
                value_hash=digest,
                masked=mask(kind, value)[:120],
                provenance=provenance,
                source=source[:120],
                created_at=utcnow(),
            )
            try:
                with session.begin_nested():
                    session.add(fresh)
            except IntegrityError:  # a concurrent task of the same request added it first
                continue
            count += 1
        elif _RANK[provenance] > _RANK[Provenance(row.provenance)]:
            row.provenance, row.source = provenance, source[:120]
            session.add(row)
            count += 1
    return count


def add_identity(
    session: Session,
    secret: str,
    request_id: str,
    identity: Identity,
    provenance: Provenance,
    source: str,
) -> int:
    pairs = [(kind, value) for kind, values in identity.values.items() for value in sorted(values)]
    return add(session, secret, request_id, pairs, provenance, source)


def vouch_all(session: Session, request_id: str, *, source: str) -> None:
    """Staff vouch for the submission: every identifier on it becomes verified."""
    session.execute(
        update(RequestIdentifier)
        .where(col(RequestIdentifier.request_id) == request_id)
        .values(provenance=Provenance.VERIFIED, source=source[:120])
    )


def erase_values(session: Session, request_ids: Sequence[str], pairs: set[tuple[str, str]]) -> int:
    """Forget the values (keep hash and mask) of derived and former identifiers of these
    requests that are among ``pairs``: the subject's identity history goes with an erasure."""
    if not request_ids or not pairs:
        return 0
    rows = session.exec(
        select(RequestIdentifier).where(
            col(RequestIdentifier.request_id).in_(list(request_ids)),
            col(RequestIdentifier.provenance).in_((Provenance.DERIVED, Provenance.FORMER)),
            col(RequestIdentifier.value).is_not(None),
        )
    ).all()
    count = 0
    for row in rows:
        if row.value is not None and (row.kind, row.value) in pairs:
            row.value = None
            session.add(row)
            count += 1
    return count


def view(rows: Iterable[RequestIdentifier]) -> list[dict[str, Any]]:
    """What ``--json`` and the pages show: kind, provenance, masked value, where it came from."""
    return [
        {"kind": r.kind, "provenance": r.provenance, "value": r.masked, "source": r.source}
        for r in rows
    ]
