"""At the desk: support finds a caller's requests by what they say, and requests end.

SQLite ledger, the demo stores, a real SMTP server; no broker: steps run inline.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, col, select, update

from dsr.core.intake.filing import Submission
from dsr.core.intake.verification import typed_code
from dsr.core.ledger.apikeys import Role
from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import AuditEvent, Request, utcnow
from dsr.errors import InvalidInput, NotFound, PermissionDenied, StateConflict
from dsr.service import Caller
from dsr.service.views import dump
from tests.core.conftest import STAFF, Core

AGENT = Caller("agent-a", Role.SUPPORT, owner="key-a")
OTHER_AGENT = Caller("agent-b", Role.SUPPORT, owner="key-b")
CALLER = "khach.hang@example.com"


def _file(core: Core, by: Caller, email: str = CALLER, **kw: object) -> str:
    sub = Submission("access", email, phone=kw.pop("phone", "0912 345 678"), by=by.actor, **kw)  # type: ignore[arg-type]
    return str(dump(core.service.submit(sub, by=by))["id"])


def _audit(core: Core, action: str) -> list[AuditEvent]:
    with Session(get_engine(core.rt.db_url)) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def test_support_finds_any_request_by_the_callers_exact_identifiers(core: Core) -> None:
    """An e-mail or phone typed as the caller says it finds every request filed for it (any
    spelling, through the keyed hashes); another agent's request shows status and dates only."""
    mine = _file(core, AGENT)
    theirs = _file(core, OTHER_AGENT, phone="+84912345678")
    _file(core, OTHER_AGENT, email="someone.else@example.com", phone="0987654321")
    by_mail = core.service.find_requests(by=AGENT, email="  Khach.Hang@EXAMPLE.com ")
    assert [f.id for f in by_mail] == [theirs, mine]
    by_phone = core.service.find_requests(by=AGENT, phone="+84 912-345-678")
    assert {f.id for f in by_phone} == {mine, theirs}
    rows = {f.id: f for f in by_mail}
    assert rows[mine].may_open and rows[mine].tasks is not None
    assert not rows[theirs].may_open and rows[theirs].tasks is None
    assert rows[theirs].status == "awaiting_verification" and rows[theirs].due_at
    with pytest.raises(NotFound):  # details stay with the filer and ops
        core.service.status(theirs, by=AGENT)
    assert core.service.find_requests(by=AGENT, email="khach@example.com") == []
    with pytest.raises(InvalidInput):
        core.service.find_requests(by=AGENT, email="not an address")
    with pytest.raises(InvalidInput):
        core.service.find_requests(by=AGENT)


def test_every_search_is_audited_without_the_values(core: Core) -> None:
    """The audit log says who searched, by which kinds of identifier and how many matched."""
    _file(core, AGENT)
    core.service.find_requests(by=AGENT, email=CALLER, phone="0912345678")
    core.service.find_requests(by=OTHER_AGENT, phone="0900000009")
    events = _audit(core, "searched")
    assert [(e.actor, e.detail) for e in events] == [
        ("agent-a", {"by": ["email", "phone"], "matched": 1}),
        ("agent-b", {"by": ["phone"], "matched": 0}),
    ]
    assert "khach" not in json.dumps([e.detail for e in events])


def test_a_short_id_of_eight_characters_names_the_request(core: Core) -> None:
    """The 8-character id a customer sees opens the request; shorter or unknown ones do not."""
    request_id = _file(core, AGENT)
    assert dump(core.service.status(request_id[:8], by=STAFF))["id"] == request_id
    assert dump(core.service.status(request_id[:8].upper(), by=AGENT))["id"] == request_id
    found = core.service.find_requests(by=OTHER_AGENT, request_id=request_id[:8])
    assert [(f.id, f.may_open) for f in found] == [(request_id, False)]
    with pytest.raises(NotFound):
        core.service.status(request_id[:7], by=STAFF)
    with pytest.raises(NotFound):
        core.service.status(request_id[:8], by=OTHER_AGENT)
    with pytest.raises(NotFound):
        core.service.status("ffffffff", by=STAFF)


def test_ops_or_the_filer_cancel_with_a_reason_once(core: Core) -> None:
    """A cancel needs a reason, is audited, ends the request, and a second one is refused."""
    request_id = _file(core, AGENT)
    with pytest.raises(PermissionDenied):
        core.service.cancel(request_id, reason="x", by=Caller.subject(request_id=request_id))
    with pytest.raises(NotFound):
        core.service.cancel(request_id, reason="duplicate", by=OTHER_AGENT)
    with pytest.raises(InvalidInput):
        core.service.cancel(request_id, reason="  ", by=AGENT)
    done = core.service.cancel(request_id, reason="caller withdrew", by=AGENT)
    assert done.status == "canceled" and done.completed_at
    with pytest.raises(StateConflict):
        core.service.cancel(request_id, reason="again", by=STAFF)
    [event] = _audit(core, "canceled")
    assert (event.actor, event.detail) == ("agent-a", {"reason": "caller withdrew"})


def test_unverified_requests_expire_silently_and_are_never_overdue(core: Core) -> None:
    """A request whose code never came back is not overdue, and after DSR_VERIFY_WITHIN_DAYS it
    is canceled, audited, with no e-mail to the address; a fresh one stays open."""
    old = _file(core, AGENT)
    fresh = _file(core, AGENT, email="fresh@example.com")
    with Session(get_engine(core.rt.db_url)) as session:
        long_ago = utcnow() - timedelta(days=15)
        session.execute(
            update(Request)
            .where(col(Request.id) == old)
            .values(received_at=long_ago, due_at=long_ago + timedelta(days=10))
        )
        session.commit()
    assert core.service.listing(by=STAFF, overdue=True) == []
    mails_before = len(core.smtp.to(CALLER))
    assert core.service.expire_unverified(by=STAFF) == [old]
    assert core.service.expire_unverified(by=STAFF) == []
    assert core.status(old)["status"] == "canceled"
    assert core.status(fresh)["status"] == "awaiting_verification"
    assert len(core.smtp.to(CALLER)) == mails_before
    [event] = _audit(core, "expired_unverified")
    assert event.request_id == old and event.actor == "scheduler"


def test_the_deadline_runs_from_verification(core: Core) -> None:
    """A code that comes back days after filing starts the reply's clock then, so the request
    is not overdue the moment it is proven."""
    from tests.service.test_subject_caller import _code

    request_id = _file(core, AGENT)
    core.drain()
    code = _code(core, CALLER, request_id)
    with Session(get_engine(core.rt.db_url)) as session:
        long_ago = utcnow() - timedelta(days=12)
        session.execute(
            update(Request)
            .where(col(Request.id) == request_id)
            .values(received_at=long_ago, due_at=long_ago + timedelta(days=10))
        )
        session.commit()
    core.service.verify(request_id, code, by=AGENT)
    due = core.status(request_id)["due_at"]
    assert due > (utcnow() + timedelta(days=9)).isoformat()
    assert core.service.listing(by=STAFF, overdue=True) == []


@given(
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.lists(st.sampled_from([" ", "-", "\u2013", "\u00a0", "\t"]), min_size=6, max_size=6),
)
def test_a_code_read_out_with_spaces_or_dashes_is_the_same_code(
    digits: str, seps: list[str]
) -> None:
    """'873 665', '873-665' or digits with any spaces and dashes between them read as 873665."""
    typed = "".join(d + s for d, s in zip(digits, seps, strict=True))
    assert typed_code(f"  {typed} ") == digits


def test_a_staff_filed_request_takes_the_code_as_the_caller_reads_it(core: Core) -> None:
    """The code e-mail of a staff-filed request says an agent will ask for it (not 'share with
    nobody'); the code read out as '873 665' or '873-665' works; attempts left are counted."""
    from tests.service.test_subject_caller import _code

    request_id = _file(core, AGENT)
    core.drain()
    code = _code(core, CALLER, request_id)
    [mail] = [m for m in core.smtp.to(CALLER) if ".verification-" in str(m["Message-ID"])]
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Nhân viên hỗ trợ" in body and "Không chia sẻ mã này với bất kỳ ai" not in body
    assert core.service.attempts_left(request_id, by=STAFF) == 5
    with pytest.raises(InvalidInput):
        core.service.verify(request_id, "000-000" if code != "000000" else "111 111", by=AGENT)
    assert core.service.attempts_left(request_id, by=STAFF) == 4
    core.service.verify(request_id, f"{code[:3]} - {code[3:]}", by=AGENT)
    assert core.status(request_id)["status"] != "awaiting_verification"
