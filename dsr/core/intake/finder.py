"""Find requests by what a caller says: an e-mail, a phone or the short id they were shown.

Identifiers are matched through the keyed hashes ``request_identifiers`` already keeps
(``value_hash``): the typed value is normalised, hashed with the same key and compared for
equality. Plain text is never searched (no LIKE on an address), and an erased subject's requests
are still found, since the hash outlives the value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlmodel import Session, col, select

from dsr.core.identity.identifiers import value_hash
from dsr.core.ledger.models import Request, RequestIdentifier
from dsr.errors import InvalidInput, NotFound
from dsr.identity import EMAIL, PHONE, normalise_email, normalise_phone

SHORT_ID_MIN = 8
_FULL_ID = re.compile(r"[0-9a-f]{32}")
_PREFIX = re.compile(r"[0-9a-f]{8,31}")


def resolve_id(session: Session, given: str) -> str:
    """A full request id from itself or a unique prefix of 8 or more hex characters.

    A shorter, ambiguous or unknown prefix is refused with a reason (nothing is guessed)."""
    text = given.strip().lower()
    if _FULL_ID.fullmatch(text):
        return text
    if not _PREFIX.fullmatch(text):
        raise NotFound("no such request")  # the same words for every id that names nothing
    # The id is a random hex string, not personal data: a prefix range on the primary key.
    upper = text + "g"  # 'g' sorts after every hex digit
    found = list(
        session.exec(
            select(Request.id)
            .where(col(Request.id) >= text, col(Request.id) < upper)
            .order_by(col(Request.id))
            .limit(2)
        )
    )
    if not found:
        raise NotFound("no such request")
    if len(found) > 1:
        raise InvalidInput(f"the id prefix {text} names more than one request: give more of it")
    return found[0]


def digests(secret: str, *, email: str | None, phone: str | None, region: str) -> list[str]:
    """The keyed hashes of the identifiers given (normalised first; InvalidInput when malformed)."""
    out = []
    if email:
        out.append(value_hash(secret, EMAIL, normalise_email(email)))
    if phone:
        out.append(value_hash(secret, PHONE, normalise_phone(phone, region)))
    return out


def matching(session: Session, hashes: Sequence[str], *, limit: int = 200) -> list[Request]:
    """The requests carrying every one of ``hashes`` among their identifiers, newest first."""
    if not hashes:
        return []
    ids: set[str] | None = None
    for digest in set(hashes):
        found = set(
            session.exec(
                select(RequestIdentifier.request_id).where(
                    col(RequestIdentifier.value_hash) == digest
                )
            )
        )
        ids = found if ids is None else ids & found
    if not ids:
        return []
    return list(
        session.exec(
            select(Request)
            .where(col(Request.id).in_(sorted(ids)))
            .order_by(col(Request.received_at).desc())
            .limit(limit)
        )
    )
