"""Who calls the application service, and what each caller may see."""

from __future__ import annotations

from dataclasses import dataclass

from dsr.core.ledger import apikeys
from dsr.core.ledger.apikeys import Role
from dsr.core.ledger.models import Request, RequestKind
from dsr.core.replies import status_links


@dataclass(frozen=True)
class Caller:
    """Who asks: ``actor`` is what the audit log records, ``role`` what they may do, ``owner``
    the identity that owns what they file (the API key's id; None at the command line).

    Ownership is never decided from ``actor``: that is a display name, and names repeat.
    """

    actor: str
    role: Role
    owner: str | None = None
    request_id: str | None = None  # a subject: the one request their status link names

    @classmethod
    def staff(cls, by: str) -> Caller:
        """An operator at the command line (shell access to the ledger is ops access)."""
        return cls(by, Role.OPS)

    @classmethod
    def subject(cls, *, visitor: str | None = None, request_id: str | None = None) -> Caller:
        """A data subject at the privacy center: files as ``visitor`` (their browser session,
        24 hex characters), or follows the one request a status link names."""
        owner = status_links.subject_owner(visitor) if visitor is not None else None
        return cls("subject", Role.SUBJECT, owner=owner, request_id=request_id)

    @property
    def is_subject(self) -> bool:
        return self.role == Role.SUBJECT

    def may(self, needed: Role) -> bool:
        return apikeys.allows(self.role, needed)

    def sees(self, request: Request) -> bool:
        """A subject sees only the request their status link names; ops see every request;
        support the ones filed with its own key, and the complaints (one staff queue that any
        support member answers: docs/DESIGN.md)."""
        if self.is_subject:
            return self.request_id is not None and request.id == self.request_id
        return (
            self.may(Role.OPS)
            or request.kind == RequestKind.COMPLAINT
            or (self.owner is not None and request.owner == self.owner)
        )
