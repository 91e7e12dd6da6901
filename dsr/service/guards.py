"""What the doors' guards report to ops: attacks seen at the edge, not tied to a request."""

from __future__ import annotations

from dsr.core.intake import mailboxes
from dsr.core.ledger.models import Request, utcnow
from dsr.core.replies import alerts, not_me_links
from dsr.errors import InvalidInput, NotFound
from dsr.service.base import ServiceBase


class GuardOps(ServiceBase):
    """Alerts raised by the HTTP door's throttles."""

    def key_prefix_attacked(self, *, count: int) -> None:
        """Many failed keys shared one key's prefix: someone saw part of a staff key. Ops hear
        of it; the key's holder is not locked out (``api/throttle.py``)."""
        with self.session() as session:
            alerts.raise_alert(
                session,
                self.rt.settings,
                reason="key_prefix_attack",
                occasion=utcnow().isoformat(timespec="seconds"),
                failures=count,
            )
            session.commit()

    def check_not_me(self, token: str) -> None:
        """NotFound unless ``token`` is a live "this was not me" link."""
        self._not_me_request(token)

    def not_me(self, token: str) -> None:
        """The owner of a mailbox did not file the request the link names: its e-mails stop
        for 30 days (mailboxes.not_me); NotFound alike for any bad link."""
        request_id = self._not_me_request(token)
        with self.session() as session:
            follow = mailboxes.not_me(session, self.rt.settings, self._load(session, request_id))
            session.commit()
        self.send(follow)

    def _not_me_request(self, token: str) -> str:
        try:
            request_id = not_me_links.read_token(self.rt.settings, token)
        except InvalidInput:
            raise NotFound("no such request") from None
        with self.session() as session:
            if session.get(Request, request_id) is None:
                raise NotFound("no such request")
        return request_id
