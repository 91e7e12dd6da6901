"""Complaints: filed to a staff queue, answered from a template to the filing address only."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from demo.smtp_sink import MailSink
from dsr.core.intake import complaints
from dsr.core.intake.filing import Submission
from dsr.core.ledger.db import get_engine, migrate, session_scope, units_of_work
from dsr.core.ledger.models import AuditEvent, Outbox, Request, RequestStatus
from dsr.core.ops import watchdog
from dsr.core.pipeline import dispatch, redrive
from dsr.core.replies import delivery
from dsr.core.replies.templates import ReplyContext
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.steps import Step
from dsr.errors import InvalidInput, StateConflict
from dsr.service import Caller, Service
from dsr.service.views import dump
from tests.scheduler.stores import settings

SUBJECT = "an.nguyen@example.vn"
OPS = "ops@example.com"
TEXT = "Tôi vẫn nhận tin nhắn quảng cáo\ndù đã hủy đăng ký từ tháng trước."


class Harness:
    """The application service with an enqueue that delivers e-mails straight to SMTP."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.sent: list[Step] = []
        self.svc = Service(rt, self.enqueue)

    def enqueue(self, follow: Iterable[Step]) -> None:
        for step in follow:
            self.sent.append(step)
            assert step.actor == "deliver", f"a complaint enqueued {step.actor}"
            delivery.deliver(units_of_work(self.rt.db_url), self.rt.settings, step.id)

    def file(self, **kw: object) -> str:
        values: dict[str, object] = {"kind": "complaint", "email": SUBJECT, "text": TEXT}
        values.update(kw)
        return str(dump(self.svc.submit(Submission(**values), by=Caller.staff("t")))["id"])  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgres"])
def rt(request: pytest.FixtureRequest, tmp_path: Path, smtp: MailSink) -> Iterator[Runtime]:
    """A runtime on SQLite or PostgreSQL whose mail goes to a real SMTP server."""
    url = (
        f"sqlite:///{tmp_path / 'ledger.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    migrate(url)
    runtime = Runtime(settings(tmp_path, url, smtp_port=smtp.port, ops_email=OPS))
    yield runtime
    runtime.close()
    get_engine(url).dispose()


@pytest.fixture
def h(rt: Runtime) -> Harness:
    return Harness(rt)


def _request(rt: Runtime, request_id: str) -> Request:
    with Session(get_engine(rt.db_url)) as session:
        found = session.get(Request, request_id)
        assert found is not None
        return found


def _actions(rt: Runtime, request_id: str) -> list[tuple[str, str, dict[str, object]]]:
    with Session(get_engine(rt.db_url)) as session:
        return [
            (e.actor, e.action, e.detail)
            for e in session.exec(
                select(AuditEvent)
                .where(AuditEvent.request_id == request_id)
                .order_by(col(AuditEvent.seq))
            )
        ]


def test_a_complaint_goes_to_the_staff_queue_with_a_15_day_deadline(
    h: Harness, smtp: MailSink
) -> None:
    """Filed without a code: acknowledged by e-mail, waiting for staff, due 15 local days later,
    no store asked."""
    request_id = h.file()
    data = dump(h.svc.status(request_id, by=Caller.staff("test")))
    assert data["status"] == RequestStatus.IN_PROGRESS and data["tasks"] == []
    assert data["complaint"] == {
        "text": TEXT,
        "answer_template": None,
        "answer_note": None,
        "answered_by": None,
        "answered_at": None,
    }
    received = datetime.fromisoformat(data["received_at"].replace("Z", "+00:00"))
    due = datetime.fromisoformat(data["due_at"].replace("Z", "+00:00"))
    hcm = ZoneInfo("Asia/Ho_Chi_Minh")
    assert (due.astimezone(hcm).date() - received.astimezone(hcm).date()).days == 15
    [ack] = smtp.to(SUBJECT)
    assert "khiếu nại" in str(ack["Subject"])
    body = ack.get_body(("plain",))
    assert body is not None
    assert "Bộ phận bảo vệ dữ liệu cá nhân sẽ xem xét khiếu nại" in body.get_content()
    assert [s.actor for s in h.sent] == ["deliver"]  # the acknowledgement only: no code, no fan-out
    assert ("system", "complaint_queued", {}) in _actions(h.rt, request_id)
    queue = dump(h.svc.listing(by=Caller.staff("test"), kind="complaint", status="in_progress"))
    assert [r["id"] for r in queue] == [request_id]
    assert dump(h.svc.listing(by=Caller.staff("test"), kind="access")) == []


def test_staff_answer_reaches_only_the_filing_address_and_completes_it(
    h: Harness, smtp: MailSink
) -> None:
    """The answer e-mail carries the template's text and the note, goes to the address that filed
    the complaint, and the request completes; the audit log keeps who answered, not the words."""
    request_id = h.file(language="en")
    note = "We removed your number from the SMS list on 3 March."
    data = dump(h.svc.answer(request_id, template="resolved", note=note, by=Caller.staff("lan")))
    assert data["complaint"]["answered_by"] == "lan"
    assert data["complaint"]["answer_template"] == "resolved"
    assert _request(h.rt, request_id).status == RequestStatus.COMPLETED
    messages = smtp.to(SUBJECT)
    assert [str(m["Subject"]) for m in messages][-1].endswith(
        f"Our answer to your complaint {request_id[:8]}"
    )
    body = messages[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "your personal data was used in a way our privacy policy does not allow" in body
    assert note in body
    assert {r for m in smtp.messages() for r in m.recipients} == {SUBJECT}
    actions = _actions(h.rt, request_id)
    assert ("lan", "complaint_answered", {"template": "resolved", "note": True}) in actions
    assert [a for _, a, _ in actions][-2:] == ["email_sent:reply", "completed"]
    assert not any("SMS" in str(detail) or "quảng cáo" in str(detail) for _, _, detail in actions)


def test_a_complaint_is_answered_once(h: Harness, smtp: MailSink) -> None:
    """A second answer (or one racing the first) is refused; one reply e-mail leaves."""
    request_id = h.file()
    h.svc.answer(request_id, template="no_misuse", by=Caller.staff("lan"))
    with pytest.raises(StateConflict, match="not waiting for staff"):
        h.svc.answer(request_id, template="resolved", by=Caller.staff("minh"))
    with Session(get_engine(h.rt.db_url)) as session:
        replies = session.exec(
            select(Outbox).where(Outbox.request_id == request_id, Outbox.purpose == "reply")
        ).all()
    assert len(replies) == 1
    assert len(smtp.to(SUBJECT)) == 2  # acknowledgement and one answer


@pytest.mark.parametrize(
    ("template", "note", "message"),
    [
        ("apology", None, "unknown answer template 'apology'"),
        ("secure_account", None, "needs a note"),
        ("secure_account", "   ", "needs a note"),
        ("resolved", "bad \x00 note", "control characters"),
        ("resolved", "x" * (complaints.MAX_NOTE + 1), "longer than"),
    ],
)
def test_a_bad_answer_changes_nothing(
    h: Harness, smtp: MailSink, template: str, note: str | None, message: str
) -> None:
    """An unknown template, a missing or malformed note: refused, the complaint still waits."""
    request_id = h.file()
    with pytest.raises(InvalidInput, match=message):
        h.svc.answer(request_id, template=template, note=note, by=Caller.staff("lan"))
    assert _request(h.rt, request_id).status == RequestStatus.IN_PROGRESS
    assert len(smtp.to(SUBJECT)) == 1


def test_only_a_complaint_can_be_answered(h: Harness) -> None:
    """Answering an access request is a conflict, not a reply."""
    access = str(dump(h.svc.submit(Submission("access", SUBJECT), by=Caller.staff("t")))["id"])
    with pytest.raises(StateConflict, match="not a complaint"):
        h.svc.answer(access, template="resolved", by=Caller.staff("lan"))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"text": None}, "complaint text is empty"),
        ({"text": "  \n "}, "complaint text is empty"),
        ({"text": "a\x07b"}, "control characters"),
        ({"text": "x" * (complaints.MAX_TEXT + 1)}, "longer than 5000"),
        ({"kind": "access"}, "only for complaints"),
    ],
)
def test_bad_complaint_input_writes_nothing(
    h: Harness, kw: dict[str, object], message: str
) -> None:
    """No text, a blank or malformed one, or a text on another kind: refused, no ledger row."""
    with pytest.raises(InvalidInput, match=message):
        h.file(**kw)
    assert dump(h.svc.listing(by=Caller.staff("test"))) == []


def test_staff_may_vouch_for_the_complainant(h: Harness) -> None:
    """A complaint filed by phone and vouched for by staff records who vouched; it still waits
    for an answer."""
    request_id = h.file(verified=True, by="lan")
    data = dump(h.svc.status(request_id, by=Caller.staff("test")))
    assert (data["status"], data["verified_by"]) == ("in_progress", "lan")
    assert ("lan", "verified_by_staff", {}) in _actions(h.rt, request_id)


def test_redrive_and_dispatch_leave_a_waiting_complaint_alone(h: Harness) -> None:
    """A complaint idle in the staff queue is not "stuck work": no fan-in, no reply is built."""
    request_id = h.file()
    with session_scope(h.rt.db_url) as session:
        assert redrive.stuck(session, h.rt, older_than_seconds=0) == []
        assert dispatch.dispatch(session, h.rt, request_id) == []
    assert _request(h.rt, request_id).status == RequestStatus.IN_PROGRESS


def test_watchdog_reminds_ops_before_a_complaint_is_due(h: Harness, smtp: MailSink) -> None:
    """Ops get the 7- and 2-day reminders and the overdue escalation for a complaint, once each."""
    request_id = h.file()
    due = _request(h.rt, request_id).due_at
    for days_before in (7, 2, -1):
        for _ in range(2):
            with session_scope(h.rt.db_url) as session:
                follow = watchdog.check(
                    session, h.rt, due - timedelta(days=days_before) + timedelta(hours=1)
                )
            h.enqueue(follow)
    subjects = [str(m["Subject"]) for m in smtp.to(OPS)]
    assert len(subjects) == 3 and all(request_id[:8] in s for s in subjects)
    assert "Nhắc hạn" in subjects[0] and "quá hạn" in subjects[-1]
    assert all(SUBJECT not in m.as_string() for m in smtp.to(OPS))


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("template", complaints.answer_templates())
def test_every_answer_template_renders_in_both_languages(template: str, lang: str) -> None:
    """Each shipped answer renders in vi and en with the note below it, HTML escaped."""
    ctx = ReplyContext(
        request_id="a" * 32,
        kind="complaint",
        language=lang,
        company="Demo <Company>",
        received_at=datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
        due_at=datetime(2026, 3, 17, 16, 59, tzinfo=UTC),
        changes={},
    )
    message = complaints.render_answer(ctx, template, "Ghi chú <b>thử</b>")
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Ghi chú <b>thử</b>" in text and "Ghi chú &lt;b&gt;thử&lt;/b&gt;" in html
    assert "02/03/2026" in text if lang == "vi" else "2 March 2026" in text
    assert "{#" not in text and "note required" not in text
    assert ("aaaaaaaa" in str(message["Subject"])) and "\n\n\n" not in text
