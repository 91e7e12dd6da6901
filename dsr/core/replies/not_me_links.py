"""The "this was not me" link of an acknowledgement or code e-mail (a signed token).

The token names the request only, is signed (itsdangerous) with the ``privacy`` purpose key
under its own salt (a status link is not one), and lives as long as a status link. Following it
shows a page that asks to confirm; only the confirmation (a POST) stops the mailbox's e-mails:
mail scanners open links, and must not do it for the subject.
"""

from __future__ import annotations

from itsdangerous import BadData, URLSafeTimedSerializer

from config.settings import Settings
from dsr.errors import InvalidInput

SALT = "privacy-not-me"
PATH = "/privacy/not-me/"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.keys.privacy.accepted(), salt=SALT)


def make_token(settings: Settings, request_id: str) -> str:
    return str(_serializer(settings).dumps(request_id))


def url(settings: Settings, request_id: str) -> str:
    """The absolute link (``public_base_url`` + ``/privacy/not-me/`` + token)."""
    return f"{settings.public_base_url.rstrip('/')}{PATH}{make_token(settings, request_id)}"


def read_token(settings: Settings, token: str) -> str:
    """The request id of a token; InvalidInput when it is not one of ours (or expired)."""
    try:
        value = _serializer(settings).loads(token[:500], max_age=settings.status_link_ttl_seconds)
    except BadData:
        raise InvalidInput("the link is not valid") from None
    if not isinstance(value, str):
        raise InvalidInput("the link is not valid")
    return value
