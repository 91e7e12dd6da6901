"""The desk: support finds a caller's requests by what the caller says, and requests end.

Support may search by an exact e-mail, phone or request id the caller gives and see the status
and dates of every request it matches; what a request holds (details, identifiers, exports)
stays with the key that filed it and with ops. Every search is recorded in the audit log (which
kinds of identifier were given and how many requests matched, never the values).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from dsr.core.intake import finder, verification
from dsr.core.intake.views import iso, request_json
from dsr.core.ledger import audit
from dsr.core.ledger.apikeys import Role
from dsr.core.ledger.models import Request
from dsr.core.pipeline import ending
from dsr.core.runtime.deadlines import RUNNING_CLOCK
from dsr.errors import InvalidInput, NotFound, PermissionDenied
from dsr.service.base import ServiceBase
from dsr.service.callers import Caller

__all__ = ["RUNNING_CLOCK", "Canceled", "DeskOps", "FoundRequest"]


class FoundRequest(BaseModel):
    """One request a search matched: status and dates for any staff member; ``may_open`` says
    whether this caller may also open it (its details and export)."""

    id: str
    short_id: str
    kind: str
    status: str
    jurisdiction: str
    received_at: str
    due_at: str
    completed_at: str | None
    may_open: bool
    tasks: list[dict[str, Any]] | None = None  # only when the caller may open it


class Canceled(BaseModel):
    """A request that ended: who canceled it is in the audit log."""

    id: str
    status: str
    completed_at: str | None


class DeskOps(ServiceBase):
    """Finding requests by what the caller says, and ending them."""

    def find_requests(
        self,
        *,
        by: Caller,
        email: str | None = None,
        phone: str | None = None,
        request_id: str | None = None,
    ) -> list[FoundRequest]:
        """Requests matching every identifier given (an e-mail, a phone, an id or its prefix of
        8+ characters), newest first; audited. InvalidInput when nothing is given or a value is
        malformed (nothing is searched then)."""
        self._require(by, Role.SUPPORT)
        email, phone = (email or "").strip() or None, (phone or "").strip() or None
        given = (request_id or "").strip()
        if not (email or phone or given):
            raise InvalidInput("give an e-mail, a phone or a request id to search by")
        hashes = finder.digests(
            self.rt.settings.keys.suppression,
            email=email,
            phone=phone,
            region=self.rt.settings.default_region,
        )
        with self.session() as session:
            found: list[Request] = []
            if given:
                try:
                    one = session.get(Request, finder.resolve_id(session, given))
                except NotFound:
                    one = None
                if one is not None and (not hashes or one in finder.matching(session, hashes)):
                    found = [one]
            else:
                found = finder.matching(session, hashes)
            audit.record(
                session,
                actor=by.actor,
                action="searched",
                by=[k for k, v in (("email", email), ("phone", phone), ("id", given)) if v],
                matched=len(found),
            )
            out = [self._found(session, r, by) for r in found]
            session.commit()
        return out

    def _found(self, session: Session, request: Request, by: Caller) -> FoundRequest:
        may_open = by.sees(request)
        tasks = request_json(session, request)["tasks"] if may_open else None
        return FoundRequest(
            id=request.id,
            short_id=request.id[: finder.SHORT_ID_MIN],
            kind=request.kind,
            status=request.status,
            jurisdiction=request.jurisdiction,
            received_at=iso(request.received_at) or "",
            due_at=iso(request.due_at) or "",
            completed_at=iso(request.completed_at),
            may_open=may_open,
            tasks=tasks,
        )

    def resolve_id(self, given: str, *, by: Caller) -> str:
        """The full id of the request ``given`` (itself or a unique prefix of 8+ characters) names,
        when ``by`` may open it; NotFound alike for unknown and not-yours. A prefix is audited
        as a search."""
        self._require(by, Role.SUPPORT)
        with self.session() as session:
            full = finder.resolve_id(session, given)
            if full != given.strip().lower():
                audit.record(session, actor=by.actor, action="searched", by=["id"], matched=1)
                session.commit()
            self._load(session, full, by)
        return full

    def cancel(self, request_id: str, *, reason: str, by: Caller) -> Canceled:
        """End an open request with a reason: ops, or the key that filed it (a subject may not:
        the status link is a bearer credential and cancels nothing)."""
        if by.is_subject:
            raise PermissionDenied("not allowed for this role")
        self._require(by, Role.SUPPORT)
        with self.session() as session:
            request = self._load(session, request_id, by)
            if not by.may(Role.OPS) and request.owner != by.owner:
                raise PermissionDenied("only ops or whoever filed it may cancel a request")
            ending.cancel(session, request, reason=reason, by=by.actor)
            session.commit()
            request = self._load(session, request_id)
            return Canceled(
                id=request.id, status=request.status, completed_at=iso(request.completed_at)
            )

    def may_cancel(self, request_id: str, *, by: Caller) -> bool:
        """Whether ``by`` may cancel the request now (for showing the button)."""
        if by.is_subject or not by.may(Role.SUPPORT):
            return False
        with self.session() as session:
            request = session.get(Request, request_id)
            return (
                request is not None
                and request.status in ending.CANCELABLE
                and (by.may(Role.OPS) or (by.owner is not None and request.owner == by.owner))
            )

    def attempts_left(self, request_id: str, *, by: Caller) -> int:
        """How many more codes may be tried on the request (shown beside its code box): its own
        limit, and its mailbox's across requests."""
        with self.session() as session:
            request = self._load(session, request_id, by)
            return verification.attempts_left(session, self.rt, request)

    def store_labels(self, *, by: Caller) -> dict[str, dict[str, str]]:
        """Each store's name in each language (``labels`` in connectors.yaml), for pages."""
        return {
            name: dict(getattr(c, "labels", {}) or {}) for name, c in self.rt.connectors.items()
        }

    def expire_unverified(self, *, by: Caller) -> list[str]:
        """Cancel the requests whose address was not proven within ``DSR_VERIFY_WITHIN_DAYS``."""
        self._require(by, Role.OPS)
        with self.session() as session:
            done = ending.expire_unverified(session, days=self.rt.settings.verify_within_days)
            session.commit()
        return done
