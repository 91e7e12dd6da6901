"""Certificates at the doors: the published keys, checking one, rotating the signing key."""

from __future__ import annotations

import email
import email.policy
import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from config import certificate_keys
from config.certificate_keys import PublishedKey
from config.keys import KeyFileError
from dsr.core.ledger import audit
from dsr.core.ledger.apikeys import Role
from dsr.core.replies import certificate_check
from dsr.core.replies.certificate import FILENAME
from dsr.core.replies.certificate_check import EXIT_CODES
from dsr.errors import ConfigError, InvalidInput, PermissionDenied
from dsr.service.app import Service
from dsr.service.callers import Caller

MAX_BYTES = 32 * 1024  # a certificate of many stores is a few KB: anything larger is not one


class CertificateCheck(BaseModel):
    """What ``dsr certificate verify`` and the privacy center's page say about a certificate."""

    valid: bool
    reason: str | None  # a Refusal's value when not valid
    message: str
    exit_code: int
    controller: str | None = None
    issued_at: str | None = None
    request_id: str | None = None
    kind: str | None = None
    kid: str | None = None
    key_retired_at: str | None = None
    ledger: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None


def _token(raw: bytes) -> str:
    """The certificate itself, or the one attached to a reply saved as an e-mail (.eml)."""
    if raw.lstrip()[:3] == b"eyJ":  # base64url of '{"': a compact JWS
        return raw.decode("utf-8", errors="replace")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if isinstance(message, EmailMessage):
        for part in message.iter_attachments():
            if part.get_filename() == FILENAME:
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    return payload.decode("utf-8", errors="replace")
    return raw.decode("utf-8", errors="replace")


def _published(svc: Service) -> list[PublishedKey]:
    # Read afresh, not the process's cached keys: a key rotated since this process started
    # (`dsr keys rotate-certificate`, then the workers restarted) is published at once.
    try:
        keys = certificate_keys.load(svc.rt.settings.resolved_certificate_keys_dir)
    except KeyFileError as err:
        raise ConfigError(str(err)) from None
    return list(keys.published)


def published_keys(svc: Service) -> dict[str, Any]:
    """The JWK Set served at ``/.well-known/dsr-keys.json``: current and previous keys."""
    return {"keys": [k.jwk() for k in _published(svc)]}


def keys_from(source: str) -> list[PublishedKey]:
    """Published keys read from a URL (``http(s)://…``) or a JWK Set file."""
    try:
        if source.startswith(("http://", "https://")):
            response = httpx.get(source, timeout=10.0, follow_redirects=True)
            response.raise_for_status()
            data = response.json()
        else:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        return certificate_check.parse_keys(data)
    except (OSError, ValueError, httpx.HTTPError) as err:
        raise InvalidInput(
            f"cannot read the published keys ({type(err).__name__})", "keys"
        ) from None


def verify(
    svc: Service,
    token: str | bytes,
    *,
    by: Caller,
    keys: list[PublishedKey] | None = None,
    ledger: bool = False,
) -> CertificateCheck:
    """Check a certificate against ``keys`` (default: this controller's own published keys)
    and, with ``ledger``, against the audit chain (staff only: the chain is the ledger's)."""
    if ledger and by.is_subject:
        raise PermissionDenied("not allowed for this role")
    raw = token.encode() if isinstance(token, str) else token
    if len(raw) > MAX_BYTES:
        raise InvalidInput(f"a certificate is at most {MAX_BYTES // 1024} KB", "certificate")
    text = _token(raw)
    known = keys if keys is not None else _published(svc)
    verdict = certificate_check.check_signature(text, known)
    if verdict.valid and ledger:
        with svc.session() as session:
            verdict = certificate_check.against_ledger(session, verdict)
    claims = verdict.claims or {}
    return CertificateCheck(
        valid=verdict.valid,
        reason=verdict.refusal.value if verdict.refusal else None,
        message=verdict.message,
        exit_code=EXIT_CODES[verdict.refusal] if verdict.refusal else 0,
        controller=claims.get("controller"),
        issued_at=claims.get("issued_at"),
        request_id=claims.get("request_id"),
        kind=claims.get("kind"),
        kid=verdict.key.kid if verdict.key else None,
        key_retired_at=verdict.key.retired_at if verdict.key else None,
        ledger=verdict.ledger or None,
        claims=verdict.claims if verdict.valid else None,
    )


def rotate(svc: Service, *, by: Caller) -> dict[str, Any]:
    """A new signing key; the old one stays published for the certificates it signed."""
    if not by.may(Role.OPS):
        raise PermissionDenied("not allowed for this role")
    fresh = certificate_keys.rotate(svc.rt.settings.resolved_certificate_keys_dir)
    with svc.session() as session:
        audit.record(
            session, actor=by.actor, action="certificate_key_rotated", kid=fresh.current.kid
        )
    return {
        "rotated": "certificate_key",
        "kid": fresh.current.kid,
        "published": [k.kid for k in fresh.published],
    }
