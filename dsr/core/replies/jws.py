"""JSON Web Signature, compact serialisation (RFC 7515), with EdDSA over Ed25519 (RFC 8037).

Only what a certificate needs: one protected header (``alg``, ``kid``, ``typ``), one payload,
one signature. Parsing tells apart a token that is not a JWS at all from one whose signature
does not match, so each can be refused with its own message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from config.certificate_keys import b64url, b64url_decode

ALG = "EdDSA"
TYP = "dsr-certificate+jws"


class Malformed(ValueError):
    """Not a compact JWS whose header and payload are JSON objects."""


@dataclass(frozen=True)
class Parsed:
    """A token split into its parts; nothing about it is trusted yet. A part that does not
    decode is None: one altered byte must read as altered, not as "not a certificate"."""

    header: dict[str, Any] | None
    payload: bytes
    signing_input: bytes
    signature: bytes | None

    @property
    def kid(self) -> str | None:
        kid = (self.header or {}).get("kid")
        return kid if isinstance(kid, str) and self.header_ok else None

    @property
    def header_ok(self) -> bool:
        return self.header is not None and self.header.get("alg") == ALG

    @property
    def claims(self) -> dict[str, Any]:
        try:
            data = json.loads(self.payload)
        except ValueError:
            raise Malformed("the payload is not JSON") from None
        if not isinstance(data, dict):
            raise Malformed("the payload is not a JSON object")
        return data


def canonical(claims: dict[str, Any]) -> bytes:
    """The payload's bytes: sorted keys, no spaces, UTF-8 (the same claims, the same bytes)."""
    return json.dumps(claims, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def sign(claims: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> str:
    """``header.payload.signature``, each part base64url."""
    header = canonical({"alg": ALG, "kid": kid, "typ": TYP})
    signing_input = f"{b64url(header)}.{b64url(canonical(claims))}".encode("ascii")
    return f"{signing_input.decode('ascii')}.{b64url(key.sign(signing_input))}"


def _decoded(part: str) -> bytes | None:
    try:
        return b64url_decode(part)
    except ValueError:
        return None


def parse(token: str) -> Parsed:
    """The token's parts; Malformed when it is not three base64url parts at all."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not all(parts) or not all(_decoded(p) is not None for p in parts[:2]):
        raise Malformed("not a compact JWS (three base64url parts separated by dots)")
    try:
        header = json.loads(b64url_decode(parts[0]))
    except ValueError:  # bad UTF-8 or JSON: altered, the signature check will say
        header = None
    return Parsed(
        header if isinstance(header, dict) else None,
        b64url_decode(parts[1]),
        f"{parts[0]}.{parts[1]}".encode("ascii"),
        _decoded(parts[2]),
    )


def signature_matches(parsed: Parsed, key: Ed25519PublicKey) -> bool:
    if parsed.signature is None:
        return False
    try:
        key.verify(parsed.signature, parsed.signing_input)
    except InvalidSignature:
        return False
    return True
