"""The private status link of a request filed at the privacy center.

A subject who files a request on the privacy center (``/privacy``) has no account and no key: the
link is their only credential, and it shows that one request's progress, never its data. The
token names the request and is signed (itsdangerous) with the ``privacy`` purpose key (after a
rotation the previous key verifies until its grace ends); it expires after
``status_link_ttl_seconds``. It is shown on the page that filed the request and written into the
acknowledgement and code e-mails, which go only to the address the request names.

Requests filed there belong to an owner ``subject:<visitor>`` (the visitor's browser session),
never to an API key: an identical request joins only one filed from the same browser.
"""

from __future__ import annotations

from itsdangerous import BadData, URLSafeTimedSerializer

from config.settings import Settings
from dsr.errors import InvalidInput

TOKEN_SALT = "privacy-status"
SUBJECT_OWNER = "subject:"  # + 24 hex characters: fits Request.owner (32)
PATH = "/privacy/status/"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.keys.privacy.accepted(), salt=TOKEN_SALT)


def subject_owner(visitor: str) -> str:
    """The owner of what a privacy-center visitor files (``visitor``: 24 hex characters)."""
    if len(visitor) != 24 or any(ch not in "0123456789abcdef" for ch in visitor):
        raise InvalidInput("malformed visitor id")
    return SUBJECT_OWNER + visitor


def filed_by_subject(owner: str | None) -> bool:
    """Whether a request with this owner was filed by its subject at the privacy center."""
    return owner is not None and owner.startswith(SUBJECT_OWNER)


def make_token(request_id: str, settings: Settings) -> str:
    """A URL-safe token naming ``request_id``, signed with the privacy key and timestamped."""
    return str(_serializer(settings).dumps(request_id))


def read_token(token: str, settings: Settings) -> str:
    """The request id inside ``token``; InvalidInput when tampered, malformed or expired (one
    message for all: the page says nothing about which check failed)."""
    try:
        value = _serializer(settings).loads(token[:500], max_age=settings.status_link_ttl_seconds)
    except BadData:
        raise InvalidInput("status link is not valid") from None
    if not isinstance(value, str):
        raise InvalidInput("status link is not valid")
    return value


def status_url(request_id: str, settings: Settings) -> str:
    """The absolute status link of ``request_id`` (``public_base_url`` + ``/privacy/status/``)."""
    return f"{settings.public_base_url.rstrip('/')}{PATH}{make_token(request_id, settings)}"
