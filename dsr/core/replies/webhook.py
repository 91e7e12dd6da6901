"""Notices to a recipient's webhook: a JSON body, signed with HMAC-SHA256, through the outbox.

The body is written to disk and the outbox row committed before it is POSTed, like an e-mail;
``X-DSR-Delivery`` carries the row's stable Message-ID so a receiver can drop a re-delivery.
The signature is ``X-DSR-Signature: sha256=<hex>`` over the exact body bytes, with the secret
``DSR_WEBHOOK_SECRETS`` gives the recipient's id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
from sqlmodel import Session

from config.settings import Settings
from dsr.core.ledger import exports
from dsr.core.ledger.models import Outbox
from dsr.core.replies import outbox
from dsr.errors import DeliveryError, DeliveryRefused

SIGNATURE_HEADER = "X-DSR-Signature"
DELIVERY_HEADER = "X-DSR-Delivery"
_RETRIABLE_4XX = (408, 425, 429)  # timeout, too early, rate limited: try again later


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_webhook(row: Outbox) -> bool:
    """Whether an outbox row is POSTed to a webhook rather than mailed."""
    return row.recipient.startswith(("https://", "http://"))


def queue(
    session: Session,
    settings: Settings,
    *,
    request_id: str,
    purpose: str,
    url: str,
    body: dict[str, Any],
) -> Outbox:
    """Store a webhook body for sending; the existing row if this purpose was already queued."""
    existing = outbox.find(session, request_id, purpose)
    if existing is not None:
        return existing
    mid = outbox.message_id(request_id, purpose, settings)
    key = exports.message_key(request_id, purpose).removesuffix(".eml") + ".json"
    # It carries the new values sent to the recipient: private, like every copy of a message.
    path = exports.put_message(
        settings, key, json.dumps({**body, "delivery": mid}, ensure_ascii=False).encode()
    )
    return outbox.record(
        session, request_id=request_id, purpose=purpose, recipient=url, message_id=mid, path=path
    )


def post(row: Outbox, *, recipient: str, settings: Settings) -> None:
    """POST one stored body; a 4xx refusal is DeliveryRefused, anything else DeliveryError."""
    body = exports.read_location(settings, row.path)
    secret = settings.webhook_secrets.get(recipient)
    if not secret:
        raise DeliveryError(f"webhook {recipient}: no secret configured")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: sign(secret, body),
        DELIVERY_HEADER: row.message_id,
    }
    try:
        response = httpx.post(
            row.recipient,
            content=body,
            headers=headers,
            timeout=settings.webhook_timeout,
            follow_redirects=False,  # a redirect could carry the body somewhere unsigned-for
        )
    except httpx.HTTPError as err:
        raise DeliveryError(f"webhook {recipient}: {type(err).__name__}") from None
    code = response.status_code
    if 200 <= code < 300:
        return
    if 400 <= code < 500 and code not in _RETRIABLE_4XX:
        raise DeliveryRefused(f"webhook {recipient}: refused ({code})")
    raise DeliveryError(f"webhook {recipient}: HTTP {code}")
