"""The scheduler's actors on a real dramatiq worker, Redis, PostgreSQL ledger and SMTP server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from demo.smtp_sink import MailSink
from dsr.core.intake import filing
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ledger.models import ConnectorTask, PurgeRun, Request, RequestStatus, utcnow
from dsr.core.runtime.process import Runtime
from tests import services
from tests.scheduler.stores import seeded_stores, settings

OPS = "ops@example.com"


def _until(check: Callable[[], Any], timeout: float = 60) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the worker did not get there in time")


@pytest.fixture
def rt(tmp_path: Path, postgres_url: str, smtp: MailSink) -> Iterator[Runtime]:
    """Seeded stores, a PostgreSQL ledger and an in-process worker running every actor."""
    services.redis_url_or_skip()
    from workers import maintenance, runtime  # noqa: F401 - declares the scheduler's actors
    from workers.broker import broker

    seeded = seeded_stores(tmp_path, postgres_url, None)
    seeded.rt.close()
    rt = Runtime(
        settings(
            tmp_path,
            postgres_url,
            smtp_port=smtp.port,
            ops_email=OPS,
            connectors_file=seeded.rt.settings.connectors_file,
        )
    )
    migrate(rt.db_url)
    runtime.set_runtime(rt)
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield rt
    worker.stop()
    broker.flush_all()
    runtime.set_runtime(None)
    rt.close()
    get_engine(rt.db_url).dispose()


def _request(rt: Runtime, email: str, *, days_ago: float, verified: bool = False) -> str:
    with session_scope(rt.db_url) as session:
        request, _ = filing.submit(
            session,
            rt,
            filing.validate(
                rt,
                filing.Submission(
                    "access", email, verified=verified, by="staff" if verified else None
                ),
            ),
            now=utcnow() - timedelta(days=days_ago),
        )
        request.updated_at = request.received_at  # idle since it was received
        session.add(request)
        session.execute(  # and so are the tasks a staff-verified request gets at intake
            sa.update(ConnectorTask)
            .where(col(ConnectorTask.request_id) == request.id)
            .values(updated_at=request.received_at)
        )
        return request.id


def test_purge_actor_sweeps_one_store(rt: Runtime) -> None:
    """purge_store(connector) sweeps that store now and records a finished purge run."""
    from workers.maintenance import purge_store

    index = sa.create_engine(f"sqlite:///{rt.settings.resolved_data_dir}/recordings/cdr.db")
    cutoff = (utcnow() - timedelta(days=180)).replace(tzinfo=None)
    with index.connect() as conn:
        old = conn.execute(
            sa.text("SELECT COUNT(*) FROM cdr WHERE calldate < :c"), {"c": cutoff}
        ).scalar_one()
    purge_store.send("recordings")

    def finished() -> PurgeRun | None:
        with Session(get_engine(rt.db_url)) as session:
            return session.exec(
                select(PurgeRun).where(PurgeRun.finished_at.is_not(None))  # type: ignore[union-attr]
            ).first()

    run = _until(finished)
    assert run.connector == "recordings" and run.report["stores"][0]["purged"] == old > 0
    with index.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT COUNT(*) FROM cdr WHERE calldate < :c"), {"c": cutoff}
            ).scalar_one()
            == 0
        )
    index.dispose()


def test_watchdog_actor_mails_ops_about_an_overdue_request(rt: Runtime, smtp: MailSink) -> None:
    """deadline_watchdog() sends the overdue and unacknowledged escalations to ops."""
    from workers.maintenance import deadline_watchdog

    # Unverified, its reply clock would not have started: only a verified request is overdue.
    request_id = _request(rt, "late.subject@example.com", days_ago=40)
    with session_scope(rt.db_url) as session:
        session.execute(
            sa.update(Request)
            .where(col(Request.id) == request_id)
            .values(status=RequestStatus.IN_PROGRESS, updated_at=utcnow())
        )
    deadline_watchdog.send()
    messages = _until(lambda: len(smtp.to(OPS)) == 2 and smtp.to(OPS))
    assert {str(m["Message-ID"]).split("@")[0] for m in messages} == {
        f"<{request_id}.reminder-overdue",
        f"<{request_id}.reminder-ack_overdue",
    }


def test_redrive_actor_restarts_a_request_whose_message_was_lost(rt: Runtime) -> None:
    """redrive_stuck() re-sends the first stage of a verified request idle past the threshold
    (its task messages were lost)."""
    from workers.maintenance import redrive_stuck

    request_id = _request(rt, "nguyen.van.an@example.com", days_ago=1, verified=True)
    redrive_stuck.send()

    def completed() -> bool:
        with Session(get_engine(rt.db_url)) as session:
            request = session.get(Request, request_id)
            return request is not None and request.status == RequestStatus.COMPLETED

    _until(completed)


def test_cleanup_actor_forgets_expired_codes(rt: Runtime) -> None:
    """cleanup_expired() removes the hash of a verification code past its expiry."""
    from workers.maintenance import cleanup_expired

    request_id = _request(rt, "slow.subject@example.com", days_ago=3)
    cleanup_expired.send()

    def forgotten() -> bool:
        with Session(get_engine(rt.db_url)) as session:
            request = session.get(Request, request_id)
            return request is not None and request.code_hash is None

    _until(forgotten)


def test_cleanup_actor_cancels_requests_left_unverified_too_long(rt: Runtime) -> None:
    """cleanup_expired() cancels a request unverified past DSR_VERIFY_WITHIN_DAYS (14), not a
    newer one."""
    from workers.maintenance import cleanup_expired

    stale = _request(rt, "never.came.back@example.com", days_ago=15)
    fresh = _request(rt, "still.time@example.com", days_ago=13)
    cleanup_expired.send()

    def canceled() -> bool:
        with Session(get_engine(rt.db_url)) as session:
            request = session.get(Request, stale)
            return request is not None and request.status == RequestStatus.CANCELED

    _until(canceled)
    with Session(get_engine(rt.db_url)) as session:
        assert session.get(Request, fresh).status == RequestStatus.AWAITING_VERIFICATION  # type: ignore[union-attr]
