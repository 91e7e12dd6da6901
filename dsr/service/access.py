"""Who is calling the doors: API keys, the web page's ledger-held sessions, and liveness.

These establish the caller, so they take none: a door turns a key (or a session cookie's id)
into a ``StaffKey`` here, and from it the ``Caller`` every other service method takes.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import structlog
from pydantic import BaseModel

from dsr.core.ledger import apikeys, web_sessions
from dsr.core.ledger.apikeys import Role
from dsr.core.ledger.db import get_engine, session_scope
from dsr.core.ledger.models import ApiKey
from dsr.service.base import ServiceBase
from dsr.service.callers import Caller

log = structlog.get_logger(__name__)


class StaffKey(BaseModel):
    """A live API key as a door sees it: its id, its name (the staff identity) and its role."""

    key_id: str
    name: str
    role: Role

    @property
    def caller(self) -> Caller:
        """This key as the application service sees it: it owns what it files."""
        return Caller(f"api:{self.name}", self.role, owner=self.key_id)


class WebSessionOut(BaseModel):
    """A live web session: the key it belongs to and what the page keeps (language, CSRF)."""

    key_id: str
    data: dict[str, Any]


def _staff(row: ApiKey | None) -> StaffKey | None:
    return None if row is None else StaffKey(key_id=row.id, name=row.name, role=Role(row.role))


class AccessOps(ServiceBase):
    """Authentication and the web page's sessions (each a short unit of work of its own)."""

    def authenticate(self, key: str | None) -> StaffKey | None:
        """The live key ``key`` is (looked up by digest); None when absent, unknown or revoked."""
        with session_scope(self.rt.db_url) as session:
            return _staff(apikeys.lookup(session, key))

    def live_key(self, key_id: str) -> StaffKey | None:
        """The key by id if it is still live (a web session holds the id, never the key)."""
        with session_scope(self.rt.db_url) as session:
            return _staff(apikeys.get_live(session, key_id))

    def web_session(self, session_id: str) -> WebSessionOut | None:
        """The live web session ``session_id`` names (an expired one is deleted)."""
        with session_scope(self.rt.db_url) as session:
            row = web_sessions.live(session, session_id)
            return None if row is None else WebSessionOut(key_id=row.key_id, data=row.data)

    def web_session_update(self, session_id: str, data: dict[str, Any]) -> None:
        with session_scope(self.rt.db_url) as session:
            web_sessions.update(session, session_id, data)

    def web_session_start(
        self, *, key_id: str, data: dict[str, Any], ttl_seconds: int, replacing: str | None
    ) -> str:
        """A new session id for ``key_id`` (logging in always issues one; ``replacing`` ends)."""
        with session_scope(self.rt.db_url) as session:
            if replacing is not None:
                web_sessions.end(session, replacing)
            web_sessions.sweep_expired(session)
            return web_sessions.start(session, key_id=key_id, data=data, ttl_seconds=ttl_seconds)

    def web_session_end(self, session_id: str) -> None:
        """Log out: the row goes, and any copy of the cookie with it."""
        with session_scope(self.rt.db_url) as session:
            web_sessions.end(session, session_id)

    def ledger_ok(self) -> bool:
        """Whether the ledger answers ``SELECT 1`` (``/healthz``; no caller: anyone may ask)."""
        try:
            with get_engine(self.rt.db_url).connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as err:  # noqa: BLE001 - any failure means "not healthy"
            log.warning("health_ledger_failed", error=type(err).__name__)
            return False
        return True
