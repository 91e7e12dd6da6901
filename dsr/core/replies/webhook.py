"""Notices to a recipient's webhook: a JSON body, signed with HMAC-SHA256, through the outbox.

The body is written to disk and the outbox row committed before it is POSTed, like an e-mail;
``X-DSR-Delivery`` carries the row's stable Message-ID so a receiver can drop a re-delivery.
``X-DSR-Timestamp`` is the Unix time of this attempt, and the signature is
``X-DSR-Signature: sha256=<hex>``, the HMAC-SHA256 of ``<timestamp>.<body>`` (the exact body
bytes) with the secret ``DSR_WEBHOOK_SECRETS`` gives the recipient's id. A receiver accepts a
notice only within :data:`FRESHNESS_SECONDS` (5 minutes) of its timestamp (:func:`verify`), so
a captured notice cannot be replayed later; each retry is signed afresh.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx
from sqlmodel import Session

from config.settings import Settings
from dsr.core.ledger import exports
from dsr.core.ledger.models import Outbox
from dsr.core.replies import outbox
from dsr.core.replies.mailer import Handover
from dsr.errors import DeliveryError, DeliveryRefused

SIGNATURE_HEADER = "X-DSR-Signature"
DELIVERY_HEADER = "X-DSR-Delivery"
TIMESTAMP_HEADER = "X-DSR-Timestamp"
FRESHNESS_SECONDS = 300
_RETRIABLE_4XX = (408, 425, 429)  # timeout, too early, rate limited: try again later


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC of ``<timestamp>.<body>``."""
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    secret: str, body: bytes, timestamp: str, signature: str, *, now: float | None = None
) -> bool:
    """What a receiver runs: the signature is ours and the notice is at most 5 minutes old
    (or ahead). The README shows this function to the recipients."""
    if not timestamp.isdigit():
        return False
    age = (time.time() if now is None else now) - int(timestamp)
    if abs(age) > FRESHNESS_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, body, int(timestamp)), signature)


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


def post(
    row: Outbox, *, recipient: str, settings: Settings, handover: Handover | None = None
) -> None:
    """POST one stored body; a 4xx refusal is DeliveryRefused, anything else DeliveryError.
    ``handover`` hears of it as of an e-mail's final dot: just before the request goes, when
    it is accepted (2xx), and when the attempt ends otherwise (answered, or not: a request
    sent whose answer was lost may have arrived, and its resend is counted)."""
    body = exports.read_location(settings, row.path)
    secret = settings.webhook_secrets.get(recipient)
    if not secret:
        raise DeliveryError(f"webhook {recipient}: no secret configured")
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: sign(secret, body, stamp),
        DELIVERY_HEADER: row.message_id,
    }
    if handover is not None:
        handover.before_end()
    try:
        response = httpx.post(
            row.recipient,
            content=body,
            headers=headers,
            timeout=settings.webhook_timeout,
            follow_redirects=False,  # a redirect could carry the body somewhere unsigned-for
        )
    except BaseException as err:
        if handover is not None:  # no connection: nothing went; otherwise it may have arrived
            handover.abandon(answered=isinstance(err, httpx.ConnectError))
        if isinstance(err, httpx.HTTPError):
            raise DeliveryError(f"webhook {recipient}: {type(err).__name__}") from None
        raise
    code = response.status_code
    if handover is not None:
        if 200 <= code < 300:
            handover.accepted()  # nothing else between the answer and this
        else:
            handover.abandon(answered=True)
    if 200 <= code < 300:
        return
    if 400 <= code < 500 and code not in _RETRIABLE_4XX:
        raise DeliveryRefused(f"webhook {recipient}: refused ({code})")
    raise DeliveryError(f"webhook {recipient}: HTTP {code}")
