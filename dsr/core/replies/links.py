"""The signed, expiring download link an access reply carries when its bundle is too big to attach.

The token names one request and is signed (itsdangerous) with the download-link key (derived
from the master secret for this purpose alone; after a rotation the previous key is accepted
until the end of its grace period). It is the only credential the subject needs, so it expires
after ``download_link_ttl_seconds``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from config.settings import Settings
from dsr.errors import InvalidInput

TOKEN_SALT = "export"


class _ClockSigner(TimestampSigner):
    """A timestamp signer whose clock can be fixed (link expiry dates, tests without sleeping)."""

    def __init__(self, *args: Any, now: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now = now

    def get_timestamp(self) -> int:
        return int(self._now) if self._now is not None else super().get_timestamp()


def _serializer(settings: Settings, now: datetime | None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        settings.keys.links.accepted(),  # signs with the last (current) key
        salt=TOKEN_SALT,
        signer=_ClockSigner,
        signer_kwargs={"now": now.timestamp() if now else None},
    )


def make_download_token(request_id: str, settings: Settings, *, now: datetime | None = None) -> str:
    """A URL-safe token naming ``request_id``, signed with the link key and timestamped."""
    return str(_serializer(settings, now).dumps(request_id))


def read_download_token(token: str, settings: Settings, *, now: datetime | None = None) -> str:
    """The request id inside ``token``; InvalidInput when tampered, malformed or expired."""
    try:
        value = _serializer(settings, now).loads(token, max_age=settings.download_link_ttl_seconds)
    except SignatureExpired:
        raise InvalidInput("download link has expired") from None
    except BadData:
        raise InvalidInput("download link is not valid") from None
    if not isinstance(value, str):
        raise InvalidInput("download link is not valid")
    return value
