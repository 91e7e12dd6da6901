"""The signed certificate of every completion reply: what it states, and each way it is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update
from sqlmodel import Session, col

from config import certificate_keys
from config.certificate_keys import b64url, b64url_decode, thumbprint
from dsr.core.ledger import audit
from dsr.core.ledger.db import get_engine, units_of_work
from dsr.core.ledger.models import AuditEvent
from dsr.core.replies import jws
from dsr.service import Caller
from dsr.service import certificates as certs
from tests.core.conftest import EMAIL, STAFF, Core

PUBLIC = Caller.subject()


def certificate_of(core: Core, rid: str) -> str:
    """The certificate.jws attached to the request's one reply."""
    (reply,) = core.replies(rid)
    (part,) = [p for p in reply.iter_attachments() if p.get_filename() == "certificate.jws"]
    return str(part.get_payload(decode=True).decode("ascii"))


def claims_of(token: str) -> dict[str, Any]:
    return dict(json.loads(b64url_decode(token.split(".")[1])))


def one_byte_changed(token: str, at: int) -> str:
    """The token with the character at ``at`` replaced by another base64url character."""
    swap = "B" if token[at] != "B" else "C"
    return token[:at] + swap + token[at + 1 :]


def seal(core: Core) -> None:
    audit.seal_all(units_of_work(core.rt.db_url))


@pytest.fixture
def erased(core: Core) -> tuple[Core, str, str]:
    rid = core.submit("erase")
    core.drain()
    return core, rid, certificate_of(core, rid)


def test_an_erasure_reply_carries_a_certificate_that_states_what_was_done(
    erased: tuple[Core, str, str],
) -> None:
    """The certificate names the request, a keyed hash of the verified address (never the
    address), each store's counts and post-erasure check, the notices and its audit event."""
    core, rid, token = erased
    header = json.loads(b64url_decode(token.split(".")[0]))
    keys = core.rt.settings.certificate_keys
    assert header == {"alg": "EdDSA", "kid": keys.current.kid, "typ": "dsr-certificate+jws"}
    claims = claims_of(token)
    assert EMAIL not in token and EMAIL not in json.dumps(claims, ensure_ascii=False)
    expected = hmac.new(keys.subject_key, EMAIL.encode(), hashlib.sha256).hexdigest()
    assert claims["subject"] == {"identifier": "email", "hmac_sha256": expected}
    assert (claims["request_id"], claims["kind"], claims["jurisdiction"]) == (rid, "erase", "vn")
    for when in ("received_at", "verified_at", "completed_at", "due_at"):
        assert claims[when], when
    stores = {s["store"]: s for s in claims["stores"]}
    assert set(stores) == set(core.rt.connectors)
    assert stores["crm"]["erased"] == 1 and stores["crm"]["post_erasure_check"]["passed"]
    orders = stores["orders"]
    assert orders["anonymised"] >= 1 and orders["deferred"] >= 1
    basis = [t for t in orders["tables"] if t["legal_basis"]]
    assert basis and all(t["until"] for t in basis)
    assert {n["status"] for n in claims["notices"]} <= {"sent", "not_needed"}
    assert claims["notices"]
    event = claims["audit"]
    with Session(get_engine(core.rt.db_url)) as session:
        row = session.get(AuditEvent, event["event_seq"])
        assert row is not None and row.action == "certificate_issued" and row.request_id == rid
        assert row.detail["payload_sha256"] == hashlib.sha256(jws.canonical(claims)).hexdigest()


@pytest.mark.parametrize("kind", ["access", "rectify"])
def test_access_and_rectify_replies_carry_one_too(core: Core, kind: str) -> None:
    """Every completion reply, not only erasure's, carries a certificate that verifies."""
    changes = {"address": "5 Trần Phú, Hà Nội"} if kind == "rectify" else {}
    rid = core.submit(kind, changes=changes)
    core.drain()
    check = certs.verify(core.service, certificate_of(core, rid), by=PUBLIC)
    assert check.valid and check.kind == kind and check.request_id == rid


def test_a_valid_certificate_verifies_offline_and_against_the_sealed_chain(
    erased: tuple[Core, str, str],
) -> None:
    """Valid: "signed by <controller> on <date>"; with the ledger, once sealed, the chain holds
    its event and verifies up to it."""
    core, _, token = erased
    check = certs.verify(core.service, token, by=PUBLIC)
    assert check.valid and check.exit_code == 0
    assert check.message.startswith(f"valid, signed by {core.rt.settings.company_name} on ")
    early = certs.verify(core.service, token, by=STAFF, ledger=True)
    assert (early.reason, early.exit_code) == ("not_sealed", 7)
    seal(core)
    later = certs.verify(core.service, token, by=STAFF, ledger=True)
    assert later.valid and later.ledger and later.ledger["event_seq"] > 0


def test_one_byte_changed_anywhere_is_refused_as_altered(erased: tuple[Core, str, str]) -> None:
    """A one-byte change in the payload or the signature reads as altered (exit 4)."""
    core, _, token = erased
    dot1, dot2 = token.index("."), token.rindex(".")
    for at in (dot1 + 40, (dot1 + dot2) // 2, dot2 - 2, dot2 + 10):
        check = certs.verify(core.service, one_byte_changed(token, at), by=PUBLIC)
        assert (check.reason, check.exit_code) == ("altered", 4), at
        assert "changed after it was signed" in check.message


def test_a_certificate_signed_by_an_unknown_key_is_refused(erased: tuple[Core, str, str]) -> None:
    """The same statement signed by a key the controller never published: unknown key (5)."""
    core, _, token = erased
    forger = Ed25519PrivateKey.generate()
    kid = thumbprint(forger.public_key().public_bytes_raw())
    forged = jws.sign(claims_of(token), forger, kid)
    check = certs.verify(core.service, forged, by=PUBLIC)
    assert (check.reason, check.exit_code) == ("unknown_key", 5)
    assert kid in check.message


def test_not_a_certificate_is_refused_as_malformed(core: Core) -> None:
    """Text that is no compact JWS, or a JWS that states no completion: malformed (3)."""
    for text in ("hello", "a.b", "!!.??.**"):
        check = certs.verify(core.service, text, by=PUBLIC)
        assert (check.reason, check.exit_code) == ("malformed", 3), text
    keys = core.rt.settings.certificate_keys
    other = jws.sign({"hello": "world"}, keys.signer, keys.current.kid)
    assert certs.verify(core.service, other, by=PUBLIC).reason == "malformed"


def test_a_certificate_naming_an_event_the_chain_does_not_hold_is_refused(
    erased: tuple[Core, str, str],
) -> None:
    """Signed with the real key but naming another event: the chain does not hold it (6)."""
    core, _, token = erased
    seal(core)
    keys = core.rt.settings.certificate_keys
    claims = claims_of(token)
    claims["audit"]["event_seq"] = 1
    check = certs.verify(
        core.service, jws.sign(claims, keys.signer, keys.current.kid), by=STAFF, ledger=True
    )
    assert (check.reason, check.exit_code) == ("not_in_chain", 6)
    assert "holds no event 1" in check.message


def test_a_chain_broken_before_the_event_is_refused(erased: tuple[Core, str, str]) -> None:
    """An edited event before the certificate's: the chain is broken (8)."""
    core, _, token = erased
    seal(core)
    with Session(get_engine(core.rt.db_url)) as session:
        session.execute(
            update(AuditEvent).where(col(AuditEvent.position) == 1).values(actor="mallory")
        )
        session.commit()
    check = certs.verify(core.service, token, by=STAFF, ledger=True)
    assert (check.reason, check.exit_code) == ("chain_broken", 8)
    assert "position 1" in check.message


def test_a_subject_may_not_read_the_chain(erased: tuple[Core, str, str]) -> None:
    """The chain check is staff's: the public page only checks signatures."""
    core, _, token = erased
    from dsr.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        certs.verify(core.service, token, by=PUBLIC, ledger=True)


def test_rotation_keeps_old_certificates_valid_and_signs_new_ones_with_the_new_key(
    erased: tuple[Core, str, str],
) -> None:
    """After ``dsr keys rotate-certificate`` both keys are published; the old certificate still
    verifies and names a key marked retired."""
    core, _, token = erased
    old_kid = core.rt.settings.certificate_keys.current.kid
    data = certs.rotate(core.service, by=STAFF)
    assert data["kid"] != old_kid and data["published"] == [data["kid"], old_kid]
    core.rt.settings.__dict__.pop("certificate_keys")  # a restarted process reads the new file
    jwks = certs.published_keys(core.service)
    assert [k["kid"] for k in jwks["keys"]] == [data["kid"], old_kid]
    assert all(k["kty"] == "OKP" and k["crv"] == "Ed25519" and "d" not in k for k in jwks["keys"])
    check = certs.verify(core.service, token, by=PUBLIC)
    assert check.valid and check.kid == old_kid and check.key_retired_at
    file = core.rt.settings.var_dir / certificate_keys.KEY_FILE
    assert file.stat().st_mode & 0o777 == 0o600
    assert b64url(core.rt.settings.certificate_keys.current.public) in json.dumps(jwks)


def test_a_held_store_is_counted_and_the_hold_reason_never_told(core: Core) -> None:
    """A legal hold shows as held, without staff's reason text (it may name a case)."""
    core.service.hold_add(
        email=EMAIL, phone=None, reason="tranh chấp 42", by=STAFF, connectors=["newsletter"]
    )
    rid = core.submit("erase")
    core.drain()
    token = certificate_of(core, rid)
    stores = {s["store"]: s for s in claims_of(token)["stores"]}
    assert stores["newsletter"]["held"] >= 1
    assert "tranh" not in json.dumps(claims_of(token), ensure_ascii=False)
