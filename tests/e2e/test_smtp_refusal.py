"""The SMTP server refuses a reply: for good (5xx) at once, for now (4xx) after the give-up time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, col, select

from demo.seed import DEMO_SUBJECT, seed
from demo.smtp_sink import free_port
from dsr.core.intake import filing
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ledger.models import Alert, Outbox, Request, utcnow
from dsr.core.pipeline import tasks
from dsr.core.replies import outbox
from dsr.core.runtime.process import Runtime
from dsr.service.metrics import registry
from tests.e2e.conftest import make_settings
from tests.e2e.drive import drive
from tests.smtp_refusal import start_refusing

EMAIL = DEMO_SUBJECT["email"]


def _runtime(tmp_path: Path, db_url: str, port: int, **extra: object) -> Runtime:
    settings = make_settings(tmp_path, db_url, port, **extra)
    seed(settings.resolved_data_dir, 20, secret_key=settings.keys.suppression, reset=True)
    rt = Runtime(settings)
    migrate(rt.db_url)
    return rt


def _submit(rt: Runtime, kind: str = "erase") -> tuple[str, list]:
    with session_scope(rt.db_url) as session:
        request, follow = filing.submit(
            session, rt, filing.validate(rt, filing.Submission(kind, EMAIL, verified=True, by="t"))
        )
    return request.id, follow


def _request(rt: Runtime, request_id: str) -> Request:
    with Session(get_engine(rt.db_url)) as session:
        request = session.get(Request, request_id)
        assert request is not None
        return request


def _alerts(rt: Runtime, request_id: str) -> list[Alert]:
    with Session(get_engine(rt.db_url)) as session:
        return list(session.exec(select(Alert).where(Alert.request_id == request_id)))


def _alert_metric(rt: Runtime, reason: str) -> float:
    value = registry(rt.db_url).get_sample_value("dsr_alerts_total", {"reason": reason})
    return value or 0.0


def test_reply_refused_550_needs_attention_at_once(tmp_path: Path, postgres_url: str) -> None:
    """A 550 for the subject's address ends retries at once: needs_attention with the reason,
    an alert row, a metric and an e-mail to ops; `retry` then sends the reply once."""
    controller, sink = start_refusing(refuse={EMAIL: "550 5.1.1 mailbox unavailable"})
    rt = _runtime(tmp_path, postgres_url, sink.port)
    try:
        request_id, follow = _submit(rt)
        retried = drive(rt, follow)
        assert retried == []  # nothing raised for a retry: the refusal is final

        request = _request(rt, request_id)
        assert request.status == "needs_attention"
        assert request.attention is not None and "550" in request.attention
        with Session(get_engine(rt.db_url)) as session:
            reply = outbox.find(session, request_id, outbox.REPLY)
            assert reply is not None and reply.status == "failed" and reply.attempts == 1
        alerts = {a.detail["purpose"]: a for a in _alerts(rt, request_id)}
        assert sorted(alerts) == ["acknowledgement", "reply"]  # both went to that address
        assert all(a.reason == "delivery_failed" and a.emailed for a in alerts.values())
        assert _alert_metric(rt, "delivery_failed") == 2
        to_ops = [m for m in sink.to(rt.settings.ops_email) if "delivery_failed" in m["Message-ID"]]
        assert len(to_ops) == 2 and not any(EMAIL in m.as_string() for m in to_ops)

        sink.refuse.clear()  # the mailbox exists again; ops retry
        with session_scope(rt.db_url) as session:
            again = tasks.retry(session, rt, request_id, by="ops")
        drive(rt, again)
        assert _request(rt, request_id).status == "completed"
        replies = [m for m in sink.to(EMAIL) if ".reply@" in m["Message-ID"]]
        assert len(replies) == 1
    finally:
        controller.stop()
        rt.close()


def test_reply_refused_451_retried_then_given_up(tmp_path: Path, postgres_url: str) -> None:
    """A 451 is retried (the row stays pending) until the give-up time, then needs_attention."""
    controller, sink = start_refusing(refuse_all="451 4.3.0 try again later")
    rt = _runtime(tmp_path, postgres_url, sink.port, delivery_give_up_seconds=3600)
    try:
        request_id, follow = _submit(rt, "access")  # no partner notices: the reply is next
        retried = drive(rt, follow)
        assert [s.actor for s in retried] == ["deliver", "deliver"]  # acknowledgement, reply
        assert _request(rt, request_id).status == "replying"
        assert _alerts(rt, request_id) == []

        with session_scope(rt.db_url) as session:  # an hour of refusals later
            session.execute(
                update(Outbox)
                .where(col(Outbox.request_id) == request_id)
                .values(created_at=utcnow() - timedelta(hours=2))
            )
        still = drive(rt, retried)  # only the new alerts' e-mails to ops wait for the server
        with Session(get_engine(rt.db_url)) as session:
            assert all(session.get(Outbox, s.id).purpose.startswith("ops:") for s in still)  # type: ignore[union-attr]
        request = _request(rt, request_id)
        assert request.status == "needs_attention"
        assert request.attention is not None and "451" in request.attention
        reasons = sorted(a.detail["purpose"] for a in _alerts(rt, request_id))
        assert reasons == ["acknowledgement", "reply"]
    finally:
        controller.stop()
        rt.close()


def test_no_smtp_server_given_up_with_alert_row(tmp_path: Path, postgres_url: str) -> None:
    """With nothing listening, the alert still reaches the ledger and the metric."""
    rt = _runtime(tmp_path, postgres_url, free_port(), delivery_give_up_seconds=0)
    try:
        request_id, follow = _submit(rt)
        drive(rt, follow)
        assert _request(rt, request_id).status == "needs_attention"
        assert _alert_metric(rt, "delivery_failed") >= 2  # acknowledgement, reply
    finally:
        rt.close()
