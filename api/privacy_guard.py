"""What keeps the public privacy center from being abused: throttles and a honeypot.

Every form the privacy center takes (a request filed, a code tried) counts against the client's
address, and a request filed also against the e-mail address it names; past
``DSR_PRIVACY_CLIENT_LIMIT`` / ``DSR_PRIVACY_ADDRESS_LIMIT`` within ``DSR_PRIVACY_WINDOW_SECONDS``
(counted from the first) the page answers 429 with ``Retry-After`` until the window ends. An
address is counted whether or not we hold data on it, so the limit says nothing about that. The
counters are Redis fixed windows (``api/rate.py``) under ``<namespace>:privacy-throttle:``, the
address keyed with the privacy purpose key (an e-mail address is guessable, its plain hash too).

The honeypot is a form field people never see (hidden by the page's style, skipped by the
keyboard, labelled "leave empty"); a form that fills it in is a robot's, and nothing is filed.
CSRF uses the staff page's scheme (``api/web_session.py``): the token lives in the visitor's
signed anonymous session cookie (SameSite=strict) and every form must carry it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import HTTPConnection

from api import rate
from api.throttle import PRIVACY
from dsr.mailbox import fold

HONEYPOT = "website"


class PrivacyThrottle:
    """The privacy center's limits per client and per e-mail address (in Redis)."""

    def __init__(
        self,
        *,
        redis: Callable[[], Any],
        namespace: str,
        key: Callable[[], bytes],
        client_limit: int,
        address_limit: int,
        window_seconds: int,
    ) -> None:
        self.window = rate.FixedWindow(redis, f"{namespace}:{PRIVACY}:", window_seconds)
        self.key = key
        self.client_limit = client_limit
        self.address_limit = address_limit

    def client(self, conn: HTTPConnection) -> int:
        """Count one form from this client; seconds to wait when it is over its limit."""
        host = conn.client.host if conn.client else "-"
        return self.window.take({rate.hashed("client", host, self.key()): self.client_limit})

    def address(self, email: str) -> int:
        """Count one request filed for ``email``'s mailbox (``+tags`` and provider rules
        folded: dsr/mailbox.py); seconds to wait when over."""
        mailbox = fold(email)
        return self.window.take({rate.hashed("address", mailbox, self.key()): self.address_limit})
