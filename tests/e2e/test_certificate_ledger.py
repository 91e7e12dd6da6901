"""A certificate issued by real workers on PostgreSQL verifies against the sealed audit chain."""

from __future__ import annotations

from demo.seed import DEMO_SUBJECT
from dsr.core.ledger import audit
from dsr.core.ledger.db import units_of_work
from dsr.service import Caller, Service
from dsr.service import certificates as certs
from tests.e2e.conftest import Pipeline

EMAIL = DEMO_SUBJECT["email"]


def test_an_erasure_certificate_verifies_against_the_postgresql_chain(pipeline: Pipeline) -> None:
    """Erase through the dramatiq worker; the reply's certificate names its own event, which
    the chain holds once sealed; the same certificate with one byte changed is refused."""
    rid = pipeline.submit("erase", EMAIL, phone=DEMO_SUBJECT["phone"])
    pipeline.wait(rid)
    (reply,) = [m for m in pipeline.smtp.to(EMAIL) if m["Message-ID"].startswith(f"<{rid}.reply@")]
    (part,) = [p for p in reply.iter_attachments() if p.get_filename() == "certificate.jws"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    token = payload.decode("ascii")
    audit.seal_all(units_of_work(pipeline.rt.db_url))
    svc = Service(pipeline.rt, lambda steps: None)
    check = certs.verify(svc, token, by=Caller.staff("auditor"), ledger=True)
    assert check.valid and check.request_id == rid, check.message
    assert check.ledger is not None and check.ledger["position"] > 0
    at = token.index(".") + 25
    altered = token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]
    assert certs.verify(svc, altered, by=Caller.staff("auditor")).reason == "altered"
