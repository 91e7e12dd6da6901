"""Checking a certificate: its signature against published keys, then (optionally) the chain.

Each way a certificate can fail has its own reason, message and exit status, so a script and a
person both learn *why*: not a certificate at all, signed by a key the controller never
published, altered after signing, naming an event the chain does not hold, an event not sealed
yet, or a chain broken before it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlmodel import Session, select

from config.certificate_keys import PublishedKey, b64url_decode
from dsr.core.ledger import audit
from dsr.core.ledger.models import AuditEvent
from dsr.core.replies import jws
from dsr.core.replies.certificate import ACTION, TYPE


class Refusal(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    ALTERED = "altered"
    NOT_IN_CHAIN = "not_in_chain"
    NOT_SEALED = "not_sealed"
    CHAIN_BROKEN = "chain_broken"


# ``dsr certificate verify``'s exit statuses (README, "Certificates"); 0 is valid, 1 and 2 keep
# their meaning for every command (an error; bad input such as an unreadable file).
EXIT_CODES = {
    Refusal.MALFORMED: 3,
    Refusal.ALTERED: 4,
    Refusal.UNKNOWN_KEY: 5,
    Refusal.NOT_IN_CHAIN: 6,
    Refusal.NOT_SEALED: 7,
    Refusal.CHAIN_BROKEN: 8,
}


@dataclass
class Verdict:
    """What a check found; ``refusal`` None means valid (as far as it went)."""

    refusal: Refusal | None = None
    message: str = ""
    claims: dict[str, Any] | None = None
    key: PublishedKey | None = None
    ledger: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.refusal is None


def parse_keys(jwks: Any) -> list[PublishedKey]:
    """The Ed25519 keys of a JWK Set; ValueError when it is not one."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError("not a JWK Set")
    out = []
    for k in jwks["keys"]:
        if isinstance(k, dict) and k.get("kty") == "OKP" and k.get("crv") == "Ed25519":
            out.append(
                PublishedKey(
                    str(k.get("kid")),
                    b64url_decode(str(k.get("x"))),
                    str(k.get("created_at", "")),
                    k.get("retired_at"),
                )
            )
    return out


def check_signature(token: str, keys: list[PublishedKey]) -> Verdict:
    """Offline: is this a certificate, signed by one of ``keys``, unaltered since?"""
    try:
        parsed = jws.parse(token)
    except jws.Malformed as err:
        return Verdict(Refusal.MALFORMED, f"not a certificate: {err}")
    kid = parsed.kid
    if kid is not None and not any(k.kid == kid for k in keys):
        return Verdict(
            Refusal.UNKNOWN_KEY,
            f"signed by an unknown key ({kid[:43]}): not one the controller publishes",
        )
    # An unreadable header was altered: no key can match it, whichever we try.
    candidates = [k for k in keys if k.kid == kid] if kid is not None else keys
    key = next((k for k in candidates if jws.signature_matches(parsed, k.verifier())), None)
    if key is None:
        return Verdict(
            Refusal.ALTERED,
            "the signature does not match: the certificate was changed after it was signed",
        )
    try:
        claims = parsed.claims
    except jws.Malformed as err:  # signed, yet not ours: another issuer's use of the key
        return Verdict(Refusal.MALFORMED, f"not a certificate: {err}", key=key)
    if claims.get("type") != TYPE:
        return Verdict(Refusal.MALFORMED, "not a certificate: it states no completion", key=key)
    controller = claims.get("controller", "?")
    return Verdict(
        None, f"valid, signed by {controller} on {claims.get('issued_at', '?')}", claims, key
    )


def against_ledger(session: Session, verdict: Verdict) -> Verdict:
    """A valid signature, then: the chain holds the certificate's event with its payload's
    digest, the chain's head it names, and verifies from the start up to that event."""
    assert verdict.valid and verdict.claims is not None
    claims = verdict.claims
    named = claims.get("audit") or {}
    seq, head_at, head_hash = (
        named.get("event_seq"),
        named.get("head_position"),
        named.get("head_hash"),
    )
    event = session.get(AuditEvent, seq) if isinstance(seq, int) else None
    digest = hashlib.sha256(jws.canonical(claims)).hexdigest()
    if (
        event is None
        or event.action != ACTION
        or event.request_id != claims.get("request_id")
        or event.detail.get("payload_sha256") != digest
    ):
        return _refused(
            verdict, Refusal.NOT_IN_CHAIN, f"the audit chain holds no event {seq} issuing it"
        )
    if event.position is None:
        return _refused(
            verdict,
            Refusal.NOT_SEALED,
            f"event {seq} is not sealed into the audit chain yet: try again in a minute",
        )
    if isinstance(head_at, int) and head_at > 0:
        at_head = session.exec(select(AuditEvent).where(AuditEvent.position == head_at)).first()
        if at_head is None or at_head.hash != head_hash:
            return _refused(
                verdict,
                Refusal.NOT_IN_CHAIN,
                f"the audit chain's event at position {head_at} has not the head hash it names",
            )
    elif head_hash != audit.GENESIS:
        return _refused(verdict, Refusal.NOT_IN_CHAIN, "the chain head it names does not exist")
    chain = audit.verify(session, upto=event.position)
    if not chain.ok:
        return _refused(
            verdict,
            Refusal.CHAIN_BROKEN,
            f"the audit chain is broken at position {chain.first_broken}, before the "
            f"certificate's event: {chain.problem}",
        )
    verdict.ledger = {"event_seq": seq, "position": event.position, "hash": event.hash}
    verdict.message += f"; the audit chain holds it (event {seq}, position {event.position})"
    return verdict


def _refused(verdict: Verdict, refusal: Refusal, message: str) -> Verdict:
    return Verdict(refusal, message, verdict.claims, verdict.key, {})
