"""The ledger remembers which suppression key chain keyed the never-re-add lists.

A hash on a suppression list cannot be recomputed without the address, so a process started with
another suppression key would silently find nothing on the list and re-add erased addresses. The
ledger keeps the chain's check value (``identity.suppression_check``); a process whose key does
not match is refused at start, and only ``dsr keys rotate-suppression`` moves the value on.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from dsr.core.ledger.models import KeyCheck, utcnow
from dsr.errors import ConfigError
from dsr.identity import suppression_check

SUPPRESSION = "suppression"
MISMATCH = (
    "the suppression key is not the one the suppression lists were keyed with: restore "
    "DSR_SUPPRESSION_KEY (or the key file), and change it only with `dsr keys rotate-suppression`"
)


def pinned(session: Session, purpose: str = SUPPRESSION) -> str | None:
    """The check value the ledger holds for ``purpose`` (None before the first start)."""
    row = session.get(KeyCheck, purpose)
    return row.digest if row is not None else None


def pin(session: Session, digest: str, purpose: str = SUPPRESSION) -> None:
    """Record ``digest`` as the purpose's check value (first start, or after a rotation)."""
    row = session.get(KeyCheck, purpose)
    if row is None:
        try:
            with session.begin_nested():
                session.add(KeyCheck(purpose=purpose, digest=digest, updated_at=utcnow()))
        except IntegrityError:  # a concurrent first start pinned it: compare with that one
            if pinned(session, purpose) != digest:
                raise ConfigError(MISMATCH) from None
        return
    row.digest = digest
    row.updated_at = utcnow()
    session.add(row)


def ensure_suppression_key(session: Session, chain: str) -> None:
    """Pin the chain on first start; ConfigError when the ledger knows another one."""
    digest = suppression_check(chain)
    known = pinned(session)
    if known is None:
        pin(session, digest)
    elif known != digest:
        raise ConfigError(MISMATCH)
