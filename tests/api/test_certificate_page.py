"""The published keys and the privacy center's certificate page (no key, CSRF, size limit)."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from config.certificate_keys import thumbprint
from dsr.core.replies import jws
from dsr.core.runtime.process import Runtime
from tests.api.conftest import csrf_of

CLAIMS: dict[str, Any] = {
    "type": "dsr-completion-certificate",
    "version": 1,
    "controller": "Demo Company",
    "request_id": "ab" * 16,
    "kind": "erase",
    "issued_at": "2026-03-05T10:00:00+00:00",
    "completed_at": "2026-03-05T10:00:00+00:00",
    "due_at": "2026-03-25T10:00:00+00:00",
    "stores": [
        {"store": "crm", "found": 1, "erased": 1, "anonymised": 0, "kept": 0, "deferred": 0,
         "held": 0, "post_erasure_check": {"passed": True, "remaining": []}},
    ],
    "notices": [{"recipient": "GHN", "status": "sent"}],
}  # fmt: skip


def signed(rt: Runtime) -> str:
    keys = rt.settings.certificate_keys
    return jws.sign(CLAIMS, keys.signer, keys.current.kid)


def post(client: TestClient, lang: str = "vi", **files: Any) -> Any:
    page = client.get(f"/privacy/certificate?lang={lang}")
    return client.post(
        "/privacy/certificate", data={"csrf": csrf_of(page.text)}, files=files or None
    )


def test_the_published_keys_are_a_jwk_set_without_private_parts(
    client: TestClient, rt: Runtime
) -> None:
    """/.well-known/dsr-keys.json: OKP/Ed25519 keys, the current one first, no private key."""
    response = client.get("/.well-known/dsr-keys.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys[0]["kid"] == rt.settings.certificate_keys.current.kid
    assert all(k["kty"] == "OKP" and k["crv"] == "Ed25519" and "d" not in k for k in keys)


def test_a_valid_certificate_says_who_signed_it_and_when_in_both_languages(
    client: TestClient, rt: Runtime
) -> None:
    """An uploaded certificate is "valid, signed by <controller> on <date>" (vi and en)."""
    upload = {"file": ("certificate.jws", signed(rt).encode(), "application/jose")}
    vi = post(client, "vi", **upload)
    assert vi.status_code == 200 and "Hợp lệ, do Demo Company ký ngày 05/03/2026" in vi.text
    en = post(client, "en", **upload)
    assert en.status_code == 200 and "Valid, signed by Demo Company on 5 March 2026" in en.text


def test_each_refusal_reads_as_its_own_reason(client: TestClient, rt: Runtime) -> None:
    """Altered, unknown key, not a certificate: 422, each with its own sentence."""
    token = signed(rt)
    at = token.index(".") + 20
    altered = token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]
    forger = Ed25519PrivateKey.generate()
    forged = jws.sign(CLAIMS, forger, thumbprint(forger.public_key().public_bytes_raw()))
    for text, reason in (
        (altered, "was changed after it was signed"),
        (forged, "signed by a key we never published"),
        ("hello", "this is not a certificate"),
    ):
        response = post(client, "en", file=("c.jws", text.encode(), "text/plain"))
        assert response.status_code == 422 and reason in response.text, reason


def test_the_form_needs_its_csrf_token_and_refuses_what_is_too_large(
    client: TestClient, rt: Runtime
) -> None:
    """No CSRF token: 403; larger than a certificate can be: 413; nothing sent: 422."""
    token = signed(rt).encode()
    client.get("/privacy/certificate")
    no_csrf = client.post("/privacy/certificate", files={"file": ("c.jws", token, "text/plain")})
    assert no_csrf.status_code == 403
    big = post(client, "en", file=("c.jws", b"eyJ" + b"A" * (40 * 1024), "text/plain"))
    assert big.status_code == 413 and "at most 32 KB" in big.text
    assert post(client, "en").status_code == 422
