"""``/healthz`` checks the real ledger and broker; ``/metrics`` reads the ledger at scrape time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, update
from sqlmodel import col

from api import create_app
from demo.smtp_sink import MailSink
from dsr.core.ledger.db import get_engine, session_scope
from dsr.core.ledger.models import (
    ConnectorTask,
    Outbox,
    OutboxStatus,
    PurgeRun,
    Request,
    TaskStatus,
    utcnow,
)
from dsr.core.runtime.process import Runtime
from dsr.service.metrics import purged_rows
from tests.api.conftest import Keys
from tests.e2e.conftest import make_settings

H = Keys.header


def test_healthz_ok_when_ledger_and_broker_answer(client: TestClient) -> None:
    """With PostgreSQL and Redis up, /healthz is 200 without any key."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"ledger": "ok", "broker": "ok"}}


def test_healthz_503_when_ledger_is_down(tmp_path: Path, smtp: MailSink) -> None:
    """A ledger that refuses connections makes /healthz 503 naming it, with no error detail."""
    rt = Runtime(
        make_settings(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:9/none", smtp.port)
    )
    with TestClient(create_app(rt)) as client:
        response = client.get("/healthz")
    get_engine(rt.db_url).dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "fail", "checks": {"ledger": "fail", "broker": "ok"}}


def test_healthz_503_when_broker_is_down(rt: Runtime) -> None:
    """A broker whose Redis does not answer makes /healthz 503 naming it."""
    from config.settings import Settings
    from workers.broker import build_broker

    dead = build_broker(Settings(redis_url="redis://127.0.0.1:9/0"))
    with TestClient(create_app(rt, broker=dead)) as client:
        response = client.get("/healthz")
    dead.close()
    assert response.status_code == 503
    assert response.json()["checks"] == {"ledger": "ok", "broker": "fail"}


def _scrape(client: TestClient, key: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=H(key))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_count_what_the_ledger_holds(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """Requests by status and kind, overdue, task durations, replies sent and rows purged."""
    ids = [
        client.post(
            "/requests",
            headers=H(keys.alice),
            json={"kind": kind, "email": email, "verified": verified},
        ).json()["id"]
        # Two subjects: an identical second access for the same one would join the first.
        for kind, email, verified in (
            ("access", "an.nguyen@example.vn", True),
            ("access", "binh.tran@example.vn", False),
            ("erase", "an.nguyen@example.vn", True),
        )
    ]
    now = utcnow()
    with session_scope(rt.db_url) as session:
        # Both past due; only the verified one counts (an unverified one's clock has not started).
        session.execute(
            update(Request)
            .where(col(Request.id).in_(ids[:2]))
            .values(due_at=now - timedelta(days=1))
        )
        # Tasks as the workers would have finished them (instead of those intake's dispatch made).
        session.execute(delete(ConnectorTask).where(col(ConnectorTask.request_id).in_(ids)))
        for connector, seconds in (("crm", 0.3), ("crm", 2.0), ("orders", 30.0)):
            session.add(
                ConnectorTask(
                    request_id=ids[0] if connector == "crm" and seconds < 1 else ids[2],
                    connector=connector,
                    status=TaskStatus.DONE,
                    started_at=now,
                    finished_at=now + timedelta(seconds=seconds),
                    updated_at=now,
                )
            )
        session.add(
            Outbox(
                request_id=ids[0],
                purpose="reply",
                recipient="x@example.vn",
                message_id="<m@x>",
                path="/dev/null",
                status=OutboxStatus.SENT,
                created_at=now,
                sent_at=now,
            )
        )
        session.add(PurgeRun(connector="recordings", started_at=now, report={"purged": 7}))
        session.add(
            PurgeRun(
                connector="crm",
                started_at=now,
                report={
                    "rules": [{"table": "customers", "purged": 3}, {"table": "notes", "purged": 2}]
                },
            )
        )
        session.add(
            PurgeRun(connector="crm", dry_run=True, started_at=now, report={"purged": 1000})
        )
    m = _scrape(client, keys.ops)
    assert m[("dsr_requests", (("kind", "access"), ("status", "in_progress")))] == 1
    assert m[("dsr_requests", (("kind", "access"), ("status", "awaiting_verification")))] == 1
    assert m[("dsr_requests", (("kind", "erase"), ("status", "verified")))] == 1
    assert m[("dsr_requests", (("kind", "rectify"), ("status", "completed")))] == 0
    assert m[("dsr_requests_overdue", ())] == 1
    crm = (("connector", "crm"),)
    assert m[("dsr_connector_task_duration_seconds_count", crm)] == 2
    assert abs(m[("dsr_connector_task_duration_seconds_sum", crm)] - 2.3) < 0.01
    assert m[("dsr_connector_task_duration_seconds_bucket", (*crm, ("le", "0.5")))] == 1
    assert m[("dsr_connector_task_duration_seconds_bucket", (*crm, ("le", "5.0")))] == 2
    assert (
        m[("dsr_connector_task_duration_seconds_bucket", (("connector", "orders"), ("le", "15.0")))]
        == 0
    )
    assert m[("dsr_connector_tasks", (("connector", "crm"), ("status", "done")))] == 2
    assert m[("dsr_replies_sent_total", (("kind", "access"),))] == 1
    assert m[("dsr_replies_sent_total", (("kind", "erase"),))] == 0
    assert m[("dsr_purged_rows_total", (("connector", "recordings"),))] == 7
    assert m[("dsr_purged_rows_total", (("connector", "crm"),))] == 5  # dry run not counted


def test_purged_rows_reads_either_report_shape() -> None:
    """A sweep report's count is its own ``purged`` or the sum over nested rule reports."""
    assert purged_rows({"purged": 4}) == 4
    assert purged_rows({"rules": [{"purged": 1}, {"purged": 2, "x": []}], "note": "x"}) == 3
    assert purged_rows({}) == 0
