"""What the doors' guards report to ops: attacks seen at the edge, not tied to a request."""

from __future__ import annotations

from dsr.core.ledger.models import utcnow
from dsr.core.replies import alerts
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
