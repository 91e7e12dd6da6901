"""At-least-once delivery and faults: duplicate messages, SMTP outage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dramatiq
import pytest
from sqlmodel import Session, select

from demo import smtp_sink
from demo.seed import DEMO_SUBJECT, seed
from demo.smtp_sink import MailSink
from dsr.core.intake import filing
from dsr.core.ledger import audit
from dsr.core.ledger.db import get_engine, migrate, session_scope, units_of_work
from dsr.core.ledger.models import AuditEvent, ConnectorTask, Outbox, Request
from dsr.core.pipeline import redrive, runner
from dsr.core.replies import outbox
from dsr.core.runtime.process import Runtime
from tests import services
from tests.e2e.conftest import make_settings, request_status, until

EMAIL = DEMO_SUBJECT["email"]


def _runtime(tmp_path: Path, db_url: str, port: int, **extra: Any) -> Runtime:
    settings = make_settings(tmp_path, db_url, port, **extra)
    seed(settings.resolved_data_dir, 30, secret_key=settings.keys.suppression, reset=True)
    rt = Runtime(settings)
    migrate(rt.db_url)
    return rt


@pytest.mark.parametrize("kind", ["access", "erase", "rectify"])
def test_every_step_twice_gives_one_reply(
    tmp_path: Path, postgres_url: str, smtp: MailSink, kind: str
) -> None:
    """Each step executed twice (a duplicate delivery) still yields one reply and one run each."""
    rt = _runtime(tmp_path, postgres_url, smtp.port)
    changes = {"address": "5 Trần Phú, Hà Nội"} if kind == "rectify" else {}
    with session_scope(rt.db_url) as session:
        request, queue = filing.submit(
            session,
            rt,
            filing.validate(
                rt, filing.Submission(kind, EMAIL, changes=changes, verified=True, by="t")
            ),
        )
    runner.drain(units_of_work(rt.db_url), rt, queue, times=2)
    with Session(get_engine(rt.db_url)) as session:
        final = session.get(Request, request.id)
        assert final is not None and final.status == "completed"
        runs = session.exec(
            select(ConnectorTask).where(ConnectorTask.request_id == request.id)
        ).all()
        assert runs and all(t.attempts == 1 for t in runs)
        done_events = session.exec(
            select(AuditEvent).where(
                AuditEvent.request_id == request.id, AuditEvent.action == "task_done"
            )
        ).all()
        assert len(done_events) == len(runs)
        assert audit.verify(session).ok
    replies = [m for m in smtp.to(EMAIL) if m["Message-ID"].startswith(f"<{request.id}.reply@")]
    assert len(replies) == 1
    rt.close()


def test_smtp_down_waits_in_replying_then_delivers_once(tmp_path: Path, postgres_url: str) -> None:
    """With SMTP down the request waits in `replying`; once it is back, exactly one reply lands."""
    services.redis_url_or_skip()
    from workers import runtime
    from workers.actors import enqueue
    from workers.broker import broker

    port = smtp_sink.free_port()  # nothing listens here yet
    rt = _runtime(tmp_path, postgres_url, port, task_max_retries=2, smtp_timeout=2.0)
    runtime.set_runtime(rt)
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        with session_scope(rt.db_url) as session:
            request, follow = filing.submit(
                session,
                rt,
                filing.validate(rt, filing.Submission("access", EMAIL, verified=True, by="t")),
            )
        enqueue(follow)
        # Its acknowledgement goes first, so the reply waits on it: SMTP tried 3 times, either.
        until(lambda: _tried(rt, request.id, min_attempts=3))
        row = _reply_row(rt, request.id, min_attempts=0)
        assert row is not None and row.status == "pending"
        with Session(get_engine(rt.db_url)) as session:
            assert session.get(Request, request.id).status == "replying"  # type: ignore[union-attr]
        controller, sink = smtp_sink.start(port)
        try:
            with session_scope(rt.db_url) as session:
                enqueue(redrive.stuck(session, rt, older_than_seconds=0))
            until(lambda: request_status(rt, request.id) == "completed" or None)
            with session_scope(rt.db_url) as session:  # a second re-drive must not resend
                enqueue(redrive.stuck(session, rt, older_than_seconds=0))
            broker.join("dsr", timeout=30_000)  # what that re-drive sent has run
            replies = [
                m for m in sink.to(EMAIL) if m["Message-ID"].startswith(f"<{request.id}.reply@")
            ]
            assert len(replies) == 1
        finally:
            controller.stop()
    finally:
        worker.stop()
        broker.flush_all()
        runtime.set_runtime(None)
        rt.close()


def _tried(rt: Runtime, request_id: str, min_attempts: int) -> bool:
    with Session(get_engine(rt.db_url)) as session:
        rows = session.exec(select(Outbox).where(Outbox.request_id == request_id)).all()
        return any(r.attempts >= min_attempts for r in rows)


def _reply_row(rt: Runtime, request_id: str, min_attempts: int) -> Outbox | None:
    with Session(get_engine(rt.db_url)) as session:
        row = outbox.find(session, request_id, outbox.REPLY)
        return row if row is not None and row.attempts >= min_attempts else None
