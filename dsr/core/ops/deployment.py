"""The ledger's fingerprint: a random id written on first start, the same for every process.

Processes that consume a broker namespace check that it carries this fingerprint, so a worker
pointed at another ledger (another ``DSR_DATABASE_URL``) refuses to run instead of taking
messages whose rows it cannot see.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from dsr.core.ledger.models import Deployment, new_id, utcnow


def fingerprint(session: Session) -> str:
    """This ledger's fingerprint, created on first use."""
    row = session.get(Deployment, 1)
    if row is None:
        try:
            with session.begin_nested():
                session.add(Deployment(id=1, fingerprint=new_id(), created_at=utcnow()))
        except IntegrityError:
            pass  # another process wrote it first
        row = session.get(Deployment, 1)
        assert row is not None
    return row.fingerprint
