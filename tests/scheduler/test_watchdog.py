"""The deadline watchdog (S7) on a frozen clock, and the clean-up of expired bundles and codes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from demo.smtp_sink import MailSink
from dsr.core.intake import filing
from dsr.core.ledger import paths
from dsr.core.ledger.db import get_engine, migrate, session_scope, units_of_work
from dsr.core.ledger.models import Alert, Outbox, OutboxStatus, Request, RequestStatus
from dsr.core.ops import watchdog
from dsr.core.replies import delivery, outbox
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.steps import Step
from tests.scheduler.stores import settings

RECEIVED = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # Monday 10:00 in Hồ Chí Minh City
OPS = "ops@example.com"


@pytest.fixture(params=["sqlite", "postgres"])
def rt(request: pytest.FixtureRequest, tmp_path: Path, smtp: MailSink) -> Iterator[Runtime]:
    """A runtime whose ledger is SQLite or PostgreSQL and whose mail goes to a real SMTP server."""
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


def _submit(rt: Runtime, email: str, *, now: datetime = RECEIVED) -> tuple[Request, list[Step]]:
    with session_scope(rt.db_url) as session:
        return filing.submit(
            session, rt, filing.validate(rt, filing.Submission("access", email)), now=now
        )


def _deliver(rt: Runtime, follow: list[Step]) -> None:
    for step in follow:
        delivery.deliver(units_of_work(rt.db_url), rt.settings, step.id)


def _watch_twice(rt: Runtime, now: datetime) -> list[Step]:
    """The watchdog runs twice at the same instant; every step it returns is delivered twice."""
    found: list[Step] = []
    for _ in range(2):
        with session_scope(rt.db_url) as session:
            follow = watchdog.check(session, rt, now)
        found += follow
        _deliver(rt, follow + follow)
    return found


def test_reminders_at_d7_d2_and_escalation_at_d_plus_1_reach_ops_once(
    rt: Runtime, smtp: MailSink
) -> None:
    """At D-7, D-2 and D+1 ops get the due reminders and escalations, each exactly once."""
    acked, ack_steps = _submit(rt, "acked.subject@example.com")
    _deliver(rt, [s for s in ack_steps if s.actor == "deliver"][:1])  # the acknowledgement
    silent, _ = _submit(rt, "silent.subject@example.com")
    done, _ = _submit(rt, "done.subject@example.com")
    with session_scope(rt.db_url) as session:
        row = session.get(Request, done.id)
        assert row is not None
        row.status, row.completed_at = RequestStatus.COMPLETED, RECEIVED + timedelta(days=1)
        session.add(row)
        for verified in (acked, silent):  # an unverified request's reply clock has not started
            proven = session.get(Request, verified.id)
            assert proven is not None
            # Verified and busy in the stores (not stalled: that alert is another test's).
            proven.status, proven.updated_at = (
                RequestStatus.IN_PROGRESS,
                acked.due_at + timedelta(9),
            )
        assert session.get(Request, acked.id).acknowledged_at is not None  # type: ignore[union-attr]
    due = acked.due_at
    assert due == silent.due_at and silent.ack_due_at and silent.ack_due_at < due - timedelta(7)

    def ids(*pairs: tuple[Request, str]) -> set[str]:
        return {outbox.message_id(r.id, f"reminder:{p}", rt.settings) for r, p in pairs}

    expected = [
        (
            due - timedelta(days=7) + timedelta(hours=1),
            ids((acked, "due_7d"), (silent, "due_7d"), (silent, "ack_overdue")),
        ),
        (due - timedelta(days=2) + timedelta(hours=1), ids((acked, "due_2d"), (silent, "due_2d"))),
        (due + timedelta(days=1), ids((acked, "overdue"), (silent, "overdue"))),
    ]
    seen: set[str] = set()
    for now, new in expected:
        steps = _watch_twice(rt, now)
        assert len(steps) == len(new)  # the second run at the same instant found nothing new
        received = [str(m["Message-ID"]) for m in smtp.to(OPS)]
        assert len(received) == len(set(received)) and set(received) == seen | new
        seen |= new
    bodies = [m.as_string() for m in smtp.to(OPS)]
    assert not any("subject@example.com" in b for b in bodies)  # ids and dates only


def test_an_unverified_request_gets_only_its_acknowledgement_reminder(
    rt: Runtime, smtp: MailSink
) -> None:
    """A request whose code never came back is never reminded of or escalated as overdue."""
    request, _ = _submit(rt, "never.verified@example.com")
    steps = _watch_twice(rt, request.due_at + timedelta(days=1))
    assert {s.id for s in steps} and [str(m["Message-ID"]) for m in smtp.to(OPS)] == [
        outbox.message_id(request.id, "reminder:ack_overdue", rt.settings)
    ]


def test_nothing_is_sent_before_the_first_reminder_point(rt: Runtime, smtp: MailSink) -> None:
    """A request acknowledged in time and eight days from its deadline gets no reminder."""
    request, follow = _submit(rt, "early@example.com")
    _deliver(rt, follow[:1])
    with session_scope(rt.db_url) as session:
        assert watchdog.check(session, rt, request.due_at - timedelta(days=8)) == []
    assert smtp.to(OPS) == []


def _completed(rt: Runtime, email: str, at: datetime) -> tuple[Path, Path, Path]:
    """A completed access request with its bundle, staged store files and sent e-mail on disk."""
    request, _ = _submit(rt, email)
    with session_scope(rt.db_url) as session:
        row = session.get(Request, request.id)
        assert row is not None
        row.status, row.completed_at, row.updated_at = RequestStatus.COMPLETED, at, at
        row.code_hash = None  # verified long ago
        session.add(row)
        ack = session.exec(
            select(Outbox).where(
                Outbox.request_id == request.id, Outbox.purpose == "acknowledgement"
            )
        ).one()
        ack.status = OutboxStatus.SENT
        session.add(ack)
        sent = Path(ack.path)
    bundle = paths.bundle(rt.settings.resolved_export_dir, request.id)
    staged = bundle.parent / "stores" / "crm" / "customers.json"
    staged.parent.mkdir(parents=True)
    staged.write_text("[]")
    bundle.write_bytes(b"PK")
    assert sent.is_file()
    return bundle, staged, sent


@pytest.mark.parametrize("rt", ["sqlite"], indirect=True)
def test_cleanup_deletes_expired_bundles_and_codes_only(rt: Runtime) -> None:
    """Bundles, staged files and sent e-mails past the link lifetime go, and stale codes with
    their e-mails; fresh ones stay."""
    ttl = timedelta(seconds=rt.settings.download_link_ttl_seconds)
    now = RECEIVED + ttl + timedelta(days=3)
    old = _completed(rt, "old@example.com", RECEIVED + timedelta(days=1))
    fresh = _completed(rt, "fresh@example.com", now - timedelta(days=1))
    stale, _ = _submit(rt, "stale@example.com")
    waiting, _ = _submit(rt, "waiting@example.com", now=now - timedelta(hours=1))

    counts = watchdog.cleanup(rt, now)
    # one old request's files; codes sent at RECEIVED: stale's (and its e-mail) only
    assert counts == {"bundles": 1, "staging": 1, "codes": 1, "messages": 2}
    assert not any(p.exists() for p in old) and all(p.exists() for p in fresh)
    with Session(get_engine(rt.db_url)) as session:
        assert session.get(Request, stale.id).code_hash is None  # type: ignore[union-attr]
        assert session.get(Request, waiting.id).code_hash is not None  # type: ignore[union-attr]
    assert watchdog.cleanup(rt, now) == {"bundles": 0, "staging": 0, "codes": 0, "messages": 0}


def test_request_idle_past_the_limit_gets_one_alert(rt: Runtime, smtp: MailSink) -> None:
    """A request stuck in a non-terminal status past the limit gets one alert (row + e-mail)."""
    request, _ = _submit(rt, "stuck@example.com")
    with session_scope(rt.db_url) as session:
        row = session.get(Request, request.id)
        assert row is not None
        row.status = RequestStatus.IN_PROGRESS  # its next message was lost
        session.add(row)
    later = RECEIVED + timedelta(seconds=rt.settings.stall_alert_seconds + 60)
    assert _alert_rows(rt, request.id) == []
    _watch_twice(rt, RECEIVED + timedelta(seconds=60))
    assert _alert_rows(rt, request.id) == []  # not idle long enough yet
    _watch_twice(rt, later)
    (alert,) = _alert_rows(rt, request.id)
    assert alert.reason == "stalled" and alert.detail["status"] == "in_progress"
    to_ops = [m for m in smtp.to(OPS) if "stalled" in m["Message-ID"]]
    assert len(to_ops) == 1


def _alert_rows(rt: Runtime, request_id: str) -> list[Alert]:
    with Session(get_engine(rt.db_url)) as session:
        return list(session.exec(select(Alert).where(Alert.request_id == request_id)))
