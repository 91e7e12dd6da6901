"""API keys for ``dsr api``: random keys shown once, stored only as a SHA-256 digest.

A key carries a role: ``support`` (file, view, download the exports they filed) or ``ops``
(everything). The key's name is the staff identity written to the audit log (``api:<name>``);
a new key with the same name (rotation) keeps that identity.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from enum import StrEnum

from sqlmodel import Session, col, select

from dsr.core.ledger import audit, web_sessions
from dsr.core.ledger.models import ApiKey, utcnow
from dsr.errors import InvalidInput, NotFound
from dsr.identity import LINE_SEPARATORS

PREFIX = "dsr_"
MAX_KEY_LENGTH = 200  # longer input is not one of ours; refuse before hashing


class Role(StrEnum):
    SUPPORT = "support"
    OPS = "ops"
    # A data subject at the privacy center: no key, no staff grant; sees only the request its
    # status link names (dsr.service.Caller.subject).
    SUBJECT = "subject"


KEY_ROLES = (Role.SUPPORT, Role.OPS)  # what an API key may carry (never ``subject``)

# What each role may do: ops is a superset of support; a subject holds no grant at all.
_GRANTS: dict[str, frozenset[Role]] = {
    Role.SUPPORT: frozenset({Role.SUPPORT}),
    Role.OPS: frozenset({Role.SUPPORT, Role.OPS}),
}


def allows(role: str, needed: Role) -> bool:
    """Whether a key of ``role`` may do what needs ``needed``."""
    return needed in _GRANTS.get(role, frozenset())


def digest(key: str) -> str:
    # A key has 256 random bits, so an unsalted digest cannot be reversed by guessing.
    return hashlib.sha256(key.encode()).hexdigest()


def _clean_name(name: str) -> str:
    name = unicodedata.normalize("NFC", " ".join(name.split()))
    if not name:
        raise InvalidInput("an API key needs a name", "name")
    if len(name) > 100 or any(
        unicodedata.category(ch).startswith("C") or ch in LINE_SEPARATORS for ch in name
    ):
        raise InvalidInput("an API key name is at most 100 printable characters")
    return name


def create(session: Session, *, name: str, role: str, by: str = "cli") -> tuple[ApiKey, str]:
    """A new key row and the key itself, which is never stored and cannot be shown again."""
    if role not in KEY_ROLES:
        raise InvalidInput(f"unknown role {role!r} (support, ops)")
    key = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=_clean_name(name), role=role, key_hash=digest(key), created_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(
        session, actor=by, action="apikey_created", key_id=row.id, role=role, name=row.name
    )
    return row, key


def lookup(session: Session, key: str | None) -> ApiKey | None:
    """The live key row for ``key``; None when absent, unknown or revoked."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == digest(key))).first()
    if row is None or row.revoked_at is not None:
        return None
    return row


def get_live(session: Session, key_id: str) -> ApiKey | None:
    """The key row by id if it is still live (web sessions keep the id, never the key)."""
    row = session.get(ApiKey, key_id)
    return row if row is not None and row.revoked_at is None else None


def revoke(session: Session, key_id: str, *, by: str = "cli") -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        web_sessions.end_for_key(session, row.id)
        audit.record(session, actor=by, action="apikey_revoked", key_id=row.id)
    return row


def listing(session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.created_at))))
