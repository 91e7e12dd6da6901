"""The certificate signing key: Ed25519, in its own private file beside the key file.

A certificate must verify for as long as anyone keeps it, so the public half of every key that
ever signed one stays published (``/.well-known/dsr-keys.json``) after ``dsr keys
rotate-certificate`` retires it; only the current key's private half is kept. The file
(``<DSR_VAR_DIR>/certificate-keys.json``, 0600) also holds the key of the subject hash a
certificate carries instead of the identifier: it never rotates, so the controller can still
tell, years later, whether a certificate names a given address.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from config.keys import KeyFileError, new_key, read_private_json, write_key_file

KEY_FILE = "certificate-keys.json"


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The bytes of unpadded base64url; ValueError for anything else."""
    if not text or any(c not in _ALPHABET for c in text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def thumbprint(public: bytes) -> str:
    """The key's id: its RFC 7638 JWK thumbprint (SHA-256 of the canonical JWK)."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": b64url(public)}, separators=(",", ":")
    )
    return b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class PublishedKey:
    """A public key certificates may be verified with (the current one, or a retired one)."""

    kid: str
    public: bytes  # raw 32 bytes
    created_at: str
    retired_at: str | None = None

    def jwk(self) -> dict[str, Any]:
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(self.public), "kid": self.kid}
        return {**jwk, "use": "sig", "alg": "EdDSA", "created_at": self.created_at} | (
            {"retired_at": self.retired_at} if self.retired_at else {}
        )

    def verifier(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public)


@dataclass(frozen=True)
class CertificateKeys:
    """The signing key (its private half) and every published key, current first."""

    signer: Ed25519PrivateKey
    published: tuple[PublishedKey, ...]
    subject_key: bytes  # HMAC key of the subject hash; never rotated

    @property
    def current(self) -> PublishedKey:
        return self.published[0]

    def jwks(self) -> dict[str, Any]:
        """The JWK Set (RFC 7517) of every key a certificate may carry."""
        return {"keys": [k.jwk() for k in self.published]}


def _raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _fresh(created_at: str) -> dict[str, Any]:
    private = Ed25519PrivateKey.generate()
    public = _raw_public(private)
    return {
        "kid": thumbprint(public),
        "d": b64url(private.private_bytes_raw()),
        "created_at": created_at,
    }


def _read(var_dir: Path) -> dict[str, Any] | None:
    path = var_dir / KEY_FILE
    data = read_private_json(path)
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("current"), dict):
        raise KeyFileError(f"{path} is not a certificate key file")
    return data


def _parse(var_dir: Path, data: dict[str, Any]) -> CertificateKeys:
    try:
        current = data["current"]
        signer = Ed25519PrivateKey.from_private_bytes(b64url_decode(current["d"]))
        public = _raw_public(signer)
        published = [PublishedKey(thumbprint(public), public, str(current["created_at"]))]
        for old in data.get("previous", []):
            raw = b64url_decode(old["x"])
            published.append(
                PublishedKey(thumbprint(raw), raw, str(old["created_at"]), old.get("retired_at"))
            )
        return CertificateKeys(signer, tuple(published), b64url_decode(data["subject_key"]))
    except (KeyError, TypeError, ValueError):
        raise KeyFileError(f"{var_dir / KEY_FILE} is not a certificate key file") from None


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def load(var_dir: Path) -> CertificateKeys:
    """The certificate keys, created (0600, atomically, once) on first use."""
    data = _read(var_dir)
    if data is None:
        fresh = {
            "current": _fresh(_now()),
            "previous": [],
            "subject_key": b64url(new_key().encode()),
        }
        if not write_key_file(var_dir, fresh, replace=False, name=KEY_FILE):
            data = _read(var_dir)  # a concurrent first start won: use its keys
        data = data or fresh
    return _parse(var_dir, data)


def rotate(var_dir: Path) -> CertificateKeys:
    """A new signing key; the old one's public half stays published as a previous key."""
    data = _read(var_dir)
    if data is None:
        return load(var_dir)
    now = _now()
    old = _parse(var_dir, data).current
    retired = {"x": b64url(old.public), "created_at": old.created_at, "retired_at": now}
    data = {**data, "current": _fresh(now), "previous": [retired, *data.get("previous", [])]}
    write_key_file(var_dir, data, name=KEY_FILE)
    return _parse(var_dir, data)
