"""The application service's plumbing: one unit of work per operation, steps sent after commit.

A broker that cannot be reached never fails a request that is already committed: the ledger
holds the work and re-drive sends it; the door is told through ``warn``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import structlog
from sqlmodel import Session

from dsr.core.ledger import key_checks
from dsr.core.ledger.apikeys import Role
from dsr.core.ledger.db import migrate, session_scope
from dsr.core.ledger.models import (
    Request,
)
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.steps import Step
from dsr.errors import NotFound, PermissionDenied
from dsr.service.callers import Caller

log = structlog.get_logger(__name__)
Enqueue = Callable[[Iterable[Step]], None]
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")  # models.new_id(): uuid4 hex


def _warn_in_log(message: str) -> None:
    log.warning("enqueue_failed", detail=message)


class ServiceBase:
    """One Runtime, its ledger sessions and the broker; ``enqueue`` sends steps after commit."""

    def __init__(
        self, rt: Runtime, enqueue: Enqueue, *, warn: Callable[[str], None] = _warn_in_log
    ) -> None:
        self.rt = rt
        self._enqueue = enqueue
        self._warn = warn
        self._migrated = False

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work on the ledger (schema brought up to date on first use)."""
        if not self._migrated:
            migrate(self.rt.db_url)
            with session_scope(self.rt.db_url) as session:
                key_checks.ensure_suppression_key(session, self.rt.settings.keys.suppression)
            self._migrated = True
        with session_scope(self.rt.db_url) as session:
            yield session

    def send(self, follow: Iterable[Step]) -> None:
        """Enqueue committed work; with the broker down, the ledger keeps it for re-drive."""
        follow = list(follow)
        if not follow:
            return
        try:
            self._enqueue(follow)
        except Exception as err:  # noqa: BLE001 - any broker failure; the ledger holds the work
            self._warn(
                f"broker unreachable ({type(err).__name__}); the request is saved and "
                "re-drive will send it"
            )

    def _load(self, session: Session, request_id: str, by: Caller | None = None) -> Request:
        """The request; NotFound also when ``by`` may not see it (its existence is not told)."""
        request = session.get(Request, request_id) if _REQUEST_ID.fullmatch(request_id) else None
        if request is None or (by is not None and not by.sees(request)):
            raise NotFound("no such request")
        return request

    def _require(self, by: Caller, needed: Role) -> None:
        if not by.may(needed):
            raise PermissionDenied("not allowed for this role")
