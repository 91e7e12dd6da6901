"""The staff web page's sessions, kept in the ledger so that they can be ended at once.

The browser holds only a random session id (signed, in an HttpOnly cookie); the ledger holds its
SHA-256, the API key it belongs to, the page's CSRF token and language, and an absolute expiry.
Logging out deletes the row, so a copied cookie dies with it; revoking the key deletes every row
of that key; an expired row is refused and deleted.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col

from dsr.core.ledger.models import WebSession, utcnow


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(
    session: Session,
    *,
    key_id: str,
    data: dict[str, Any],
    ttl_seconds: int,
    now: datetime | None = None,
) -> str:
    """A new session for ``key_id``; returns the id for the cookie (stored only hashed)."""
    now = now or utcnow()
    session_id = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id_hash=_hash(session_id),
            key_id=key_id,
            data=data,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    return session_id


def live(session: Session, session_id: str, *, now: datetime | None = None) -> WebSession | None:
    """The session row if it exists and has not expired (an expired one is deleted)."""
    row = session.get(WebSession, _hash(session_id))
    if row is None:
        return None
    if row.expires_at <= (now or utcnow()):
        session.delete(row)
        return None
    return row


def update(session: Session, session_id: str, data: dict[str, Any]) -> None:
    """Store the session's new data (language, CSRF token)."""
    row = session.get(WebSession, _hash(session_id))
    if row is not None:
        row.data = data
        session.add(row)


def end(session: Session, session_id: str) -> None:
    """Log out: the row goes, and any copy of the cookie with it."""
    session.execute(delete(WebSession).where(col(WebSession.id_hash) == _hash(session_id)))


def end_for_key(session: Session, key_id: str) -> int:
    """Every session of a key (the key was revoked); how many ended."""
    result = session.execute(delete(WebSession).where(col(WebSession.key_id) == key_id))
    return int(getattr(result, "rowcount", 0) or 0)


def sweep_expired(session: Session, *, now: datetime | None = None) -> None:
    """Delete expired rows (done at each login, so the table stays small)."""
    session.execute(delete(WebSession).where(col(WebSession.expires_at) <= (now or utcnow())))
