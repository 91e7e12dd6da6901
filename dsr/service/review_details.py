"""Review that can be decided: ops see, per undecided candidate, what the store holds of it.

The records are read from their stores when ops open the review, with no ledger transaction
open meanwhile, and the reading is audited (how many records were read and shown, never a
value). Support never get these details: a needs_review request waits for ops.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from dsr.core.identity import candidate_details, candidates
from dsr.core.intake.views import MatchedOut
from dsr.core.ledger import audit
from dsr.core.ledger.apikeys import Role
from dsr.service.base import ServiceBase
from dsr.service.callers import Caller

__all__ = ["CandidateDetailOut", "ReviewOps"]


class CandidateDetailOut(BaseModel):
    """An undecided candidate as its store holds it now, masked (``ref`` names it).

    ``detail``: ``shown``; ``gone`` (no longer in the store); ``unavailable`` (the store cannot
    read one record by key); ``unreachable`` (it did not answer now). The dates are ISO 8601
    UTC, from the columns the store's configuration names (``updated_at``: its last write).
    """

    ref: str
    detail: Literal["shown", "gone", "unavailable", "unreachable"]
    name: str | None
    matched: list[MatchedOut]
    others: list[MatchedOut]
    created_at: str | None
    last_activity_at: str | None
    updated_at: str | None


class ReviewOps(ServiceBase):
    """What ops need to decide on a request's candidates."""

    def candidate_details(self, request_id: str, *, by: Caller) -> list[CandidateDetailOut]:
        """Each undecided candidate of the request read from its store, masked (ops); the
        reading is audited."""
        self._require(by, Role.OPS)
        with self.session() as session:
            self._load(session, request_id)
            rows = candidates.of(session, request_id)  # read on after it: stores talk outside
        if not any(r.decision is None for r in rows):
            return []
        secret = self.rt.settings.keys.suppression  # the key the candidates were hashed with
        found = candidate_details.describe(self.rt.connectors, rows, secret)
        with self.session() as session:
            audit.record(
                session,
                actor=by.actor,
                action="candidates_read",
                request_id=request_id,
                read=len(found),
                shown=sum(1 for f in found if f["detail"] == "shown"),
            )
        return [CandidateDetailOut.model_validate(f) for f in found]
