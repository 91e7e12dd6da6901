"""The data subject as a caller of the application service (the privacy center's door).

SQLite ledger, the demo stores, a real SMTP server; no broker: steps run inline.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlmodel import Session

from demo.seed import DEMO_SUBJECT
from dsr.core.intake.filing import Submission
from dsr.core.ledger import apikeys
from dsr.core.ledger.db import get_engine
from dsr.core.replies import status_links
from dsr.errors import InvalidInput, NotFound, PermissionDenied
from dsr.service import Caller
from dsr.service.views import dump
from tests.core.conftest import EMAIL, STAFF, Core

VISITOR = "0123456789abcdef01234567"
OTHER_VISITOR = "fedcba9876543210fedcba98"
# What a subject's status may hold, and nothing else (no candidates, identifiers, tasks' errors,
# file paths, audit trail, who filed it).
SUBJECT_FIELDS = {
    "id", "kind", "phase", "language", "email", "received_at", "due_at", "completed_at",
    "reply_sent_at", "stores", "code_open", "attempts_left", "delivered_as", "status_token",
}  # fmt: skip


def _file(core: Core, kind: str = "access", email: str = EMAIL, **kw: Any) -> dict[str, Any]:
    visitor = kw.pop("visitor", VISITOR)
    return dump(
        core.service.submit(Submission(kind, email, **kw), by=Caller.subject(visitor=visitor))
    )


def _code(core: Core, email: str, request_id: str) -> str:
    mails = [
        m
        for m in core.smtp.to(email)
        if str(m["Message-ID"]).startswith(f"<{request_id}.verification-")
    ]
    assert mails, "no code e-mail"
    body = mails[-1].get_body(("plain",))
    assert body is not None
    found = re.search(r"\b(\d{6})\b", body.get_content())
    assert found
    return found.group(1)


def _as_subject(core: Core, token: str) -> Caller:
    return core.service.subject_by_link(token)


def test_a_subject_files_unverified_and_sees_only_where_the_request_stands(core: Core) -> None:
    """A subject's request waits for the code, and the subject's view holds no data at all."""
    view = _file(core, phone="0912 345 678")
    assert set(view) == SUBJECT_FIELDS
    assert view["phase"] == "awaiting_code" and view["code_open"] is True
    assert view["email"] == "ng***@example.com"
    staff = core.status(view["id"])
    assert staff["status"] == "awaiting_verification"
    assert {(i["kind"], i["provenance"]) for i in staff["identifiers"]} == {
        ("email", "asserted"),
        ("phone", "asserted"),
    }
    me = _as_subject(core, view["status_token"])
    assert set(dump(core.service.status(view["id"], by=me))) == SUBJECT_FIELDS


def test_a_subject_sees_no_other_request_and_no_staff_operation(core: Core) -> None:
    """The link's holder gets 'not found' for any other request and is refused every staff
    operation: listing, downloading, answering, retrying, reviewing."""
    mine = _file(core)
    other = core.submit("complaint", verified=False, by=None, text="Tôi bị gọi điện quảng cáo.")
    me = _as_subject(core, mine["status_token"])
    with pytest.raises(NotFound):
        dump(
            core.service.status(other, by=me)
        )  # a complaint too: staff see every one, not subjects
    with pytest.raises(NotFound):
        core.service.verify(other, "123456", by=me)
    with pytest.raises(PermissionDenied):
        core.service.listing(by=me)
    with pytest.raises(PermissionDenied):
        core.service.export(mine["id"], by=me)
    with pytest.raises(PermissionDenied):
        core.service.answer(other, template="resolved", by=me)
    with pytest.raises(PermissionDenied):
        core.service.retry(mine["id"], by=me)
    with pytest.raises(PermissionDenied):
        core.service.review(mine["id"], include=[], exclude=[], exclude_all=True, by=me)
    assert core.service.may_download(mine["id"], by=me) is False


def test_a_subject_cannot_vouch_for_themselves(core: Core) -> None:
    """``verified`` (or a staff name) from a subject is refused and nothing is written."""
    with pytest.raises(PermissionDenied):
        _file(core, verified=True, by="me")
    with pytest.raises(PermissionDenied):
        dump(core.service.submit(Submission("access", EMAIL), by=Caller.subject()))  # no visitor
    assert dump(core.service.listing(by=STAFF)) == []


def test_the_code_proves_the_email_only_and_the_request_completes(core: Core) -> None:
    """Confirmed by the subject, the code verifies the address alone (the typed phone stays
    asserted), the stores run, and the view moves on to completed with the reply's date."""
    view = _file(core, phone="0912 345 678")
    me = _as_subject(core, view["status_token"])
    core.drain()  # acknowledgement and code e-mails
    after = dump(core.service.verify(view["id"], _code(core, EMAIL, view["id"]), by=me))
    assert set(after) == SUBJECT_FIELDS and after["phase"] == "in_progress"
    assert after["stores"] == {"total": 0, "finished": 0}  # dispatch has not run yet
    staff = core.status(view["id"])
    assert {(i["kind"], i["provenance"]) for i in staff["identifiers"] if i["source"] != "crm"} >= {
        ("email", "verified"),
        ("phone", "asserted"),
    }
    core.drain()
    done = dump(core.service.status(view["id"], by=me))
    assert done["phase"] == "completed" and done["reply_sent_at"] is not None
    assert done["delivered_as"] == "attachment"  # a small bundle: the page says which
    assert done["stores"]["total"] == len(core.rt.connectors) == done["stores"]["finished"]
    assert len(core.replies(view["id"])) == 1


def test_a_customers_phone_typed_by_a_stranger_holds_nothing_back(core: Core) -> None:
    """A stranger who proves their own address and types a customer's phone gets their request
    completed like any other (issue 22: no oracle); the hits wait for no one."""
    stranger = "nguoi.la@example.net"
    view = _file(core, email=stranger, phone=DEMO_SUBJECT["phone"])
    me = _as_subject(core, view["status_token"])
    core.drain()
    core.service.verify(view["id"], _code(core, stranger, view["id"]), by=me)
    core.drain()
    staff = core.status(view["id"])
    assert staff["status"] in ("replying", "completed")
    assert staff["candidates"] and not any(c["blocks_reply"] for c in staff["candidates"])
    seen = dump(core.service.status(view["id"], by=me))
    assert seen["phase"] in ("replying", "completed") and set(seen) == SUBJECT_FIELDS


def test_wrong_codes_close_the_request_for_the_subject(core: Core) -> None:
    """Each wrong code counts; after the last allowed attempt the page offers no code field."""
    view = _file(core)
    me = _as_subject(core, view["status_token"])
    for _ in range(core.rt.settings.verification_max_attempts):
        with pytest.raises(InvalidInput):
            core.service.verify(view["id"], "not-a-code", by=me)
    seen = dump(core.service.status(view["id"], by=me))
    assert seen["phase"] == "code_closed" and seen["code_open"] is False


def test_identical_requests_join_only_those_of_the_same_visitor(core: Core) -> None:
    """The same browser filing twice gets its own request back; another visitor, or staff,
    filing the identical request get a new one (joining would show them this one)."""
    first = _file(core)
    assert _file(core)["id"] == first["id"]
    assert _file(core, visitor=OTHER_VISITOR)["id"] != first["id"]
    staff = core.submit("access", verified=False, by=None)
    assert staff != first["id"]


def test_a_complaint_goes_to_staff_without_a_code(core: Core) -> None:
    """As at every door, a complaint is not held for a code: the subject sees it with staff."""
    view = _file(core, "complaint", text="Tôi vẫn nhận tin quảng cáo.")
    assert view["phase"] == "with_staff" and view["code_open"] is False
    core.service.answer(view["id"], template="no_misuse", by=STAFF)
    core.drain()
    assert (
        dump(core.service.status(view["id"], by=_as_subject(core, view["status_token"])))["phase"]
        == "completed"
    )


def test_only_the_subjects_own_requests_mail_the_status_link(core: Core) -> None:
    """The acknowledgement and code of a request filed at the privacy center carry its status
    link (which names that request); a staff-filed request's e-mails do not."""
    mine = _file(core)
    theirs = core.submit("access", verified=False, by=None)
    core.drain()
    for purpose in ("acknowledgement", "verification-1"):
        text = _mail(core, mine["id"], purpose)
        link = re.search(r"/privacy/status/(\S+)", text)
        assert link, purpose
        assert status_links.read_token(link.group(1), core.rt.settings) == mine["id"]
        assert "/privacy/status/" not in _mail(core, theirs, purpose)


def _mail(core: Core, request_id: str, purpose: str) -> str:
    mails = [
        m
        for m in core.smtp.to(EMAIL)
        if str(m["Message-ID"]).startswith(f"<{request_id}.{purpose}@")
    ]
    assert len(mails) == 1, purpose
    body = mails[0].get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_status_links_that_are_tampered_foreign_or_expired_name_nothing(core: Core) -> None:
    """A status link works only as issued: changed, signed with another key or salt, or older
    than ``status_link_ttl_seconds``, it is 'not found' like a link that never existed."""
    view = _file(core)
    settings = core.rt.settings
    token = view["status_token"]
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    foreign = URLSafeTimedSerializer(settings.keys.links.current, salt="privacy-status").dumps(
        view["id"]
    )
    other_salt = URLSafeTimedSerializer(settings.keys.privacy.current, salt="export").dumps(
        view["id"]
    )

    class Old(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - settings.status_link_ttl_seconds - 60

    expired = URLSafeTimedSerializer(
        settings.keys.privacy.current, salt=status_links.TOKEN_SALT, signer=Old
    ).dumps(view["id"])
    for bad in (tampered, foreign, other_salt, expired, "x", "a" * 2000):
        with pytest.raises(NotFound):
            core.service.subject_by_link(bad)
    unknown = status_links.make_token("0" * 32, settings)  # well signed, names no request
    with pytest.raises(NotFound):
        core.service.status("0" * 32, by=_as_subject(core, unknown))


def test_api_keys_never_carry_the_subject_role(core: Core) -> None:
    """``dsr apikey create --role subject`` is bad input: a key is staff, never a subject."""
    with pytest.raises(InvalidInput):
        core.service.key_create(name="x", role="subject", by=STAFF)
    with Session(get_engine(core.rt.db_url)) as session, pytest.raises(InvalidInput):
        apikeys.create(session, name="x", role="subject")
