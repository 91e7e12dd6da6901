"""Staff decide on a ``needs_review`` request's candidates (``dsr review``).

Included records are the subject's from now on: the store that found them runs again, with them
admitted (their identifiers become derived), and so does every later stage, which may now find
more (an included second account's orders). Excluded ones are never acted on. With nothing
included, the request goes on to fan-in and its reply. Who decided what is in the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from dsr.core.identity import assurance, candidates
from dsr.core.ledger import audit
from dsr.core.ledger.models import RequestStatus, TaskStatus, load_request, utcnow
from dsr.core.pipeline import dispatch
from dsr.core.pipeline.tasks import fan_in
from dsr.core.runtime import steps
from dsr.core.runtime.process import Runtime


def decide(
    session: Session,
    rt: Runtime,
    request_id: str,
    *,
    include: Sequence[str],
    exclude: Sequence[str],
    exclude_all: bool,
    by: str,
) -> list[steps.Step]:
    """Record the decision and continue the request; InvalidInput when it does not fit."""
    request = load_request(session, request_id, status=RequestStatus.NEEDS_REVIEW)
    rows = candidates.of(session, request_id)
    included, excluded = candidates.decide(
        rows, include=list(include), exclude=list(exclude), exclude_all=exclude_all, by=by
    )
    for row in [*included, *excluded]:
        session.add(row)
    audit.record(
        session,
        actor=by,
        action="reviewed",
        request_id=request_id,
        included=[candidates.ref_of(r) for r in included],
        excluded=[candidates.ref_of(r) for r in excluded],
    )
    now = utcnow()
    request.updated_at = now
    if not included:
        # Every store is done: fan-in moves it on to its reply (and completes an erasure), as
        # for any request whose last task finished, in this same transaction.
        request.status = RequestStatus.IN_PROGRESS
        session.add(request)
        session.flush()
        return fan_in(session, rt, request_id)
    stores = {r.connector for r in included}
    tasks = dispatch.tasks_of(session, request_id)
    first = min(t.stage for t in tasks if t.connector in stores)
    for t in tasks:
        # The stores holding included records run again with them admitted, and so does every
        # later stage: they ran without the identifiers those records add.
        if t.connector in stores or t.stage > first:
            t.status, t.error, t.records = TaskStatus.PENDING, None, 0
            t.result = assurance.stash(t.result)
            t.updated_at = now
            session.add(t)
    request.status = RequestStatus.IN_PROGRESS
    session.add(request)
    session.flush()
    return dispatch.ready(session, request_id)
