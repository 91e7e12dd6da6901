"""A worker process SIGKILLed mid-task: a new worker finishes the request, with one reply."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from config.settings import Settings
from demo.smtp_sink import MailSink
from demo.stores import create_store, stamp
from dsr.core.intake import filing
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ledger.models import ConnectorTask
from dsr.core.runtime.process import Runtime
from tests import services
from tests.e2e.conftest import request_status, until

EMAIL = "tran.thi.binh@example.com"
SLOW_SECONDS = 4

CONNECTORS = """
connectors:
  - name: crm
    kind: sql
    url: "{url}"
    labels: {{vi: "CRM chậm", en: "Slow CRM"}}
    tables:
      - name: customers
        key: id
        match: {{email: email}}
        collected_at: created_at
        erase: {{mode: delete}}
"""


def _slow_crm(url: str) -> None:
    """A CRM whose every lookup takes SLOW_SECONDS: a view over the table that calls pg_sleep."""
    engine = sa.create_engine(url)
    create_store(engine, "crm")
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE customers RENAME TO customers_data"))
        conn.execute(
            sa.text(
                "CREATE FUNCTION slow(s float) RETURNS boolean LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_sleep(s); RETURN true; END $$"
            )
        )
        conn.execute(
            sa.text(
                f"CREATE VIEW customers AS SELECT c.* FROM customers_data c "
                f"WHERE (SELECT slow({SLOW_SECONDS}))"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO customers_data (customer_id, full_name, email, status, "
                "created_at, updated_at) VALUES ('KH900001', 'Trần Thị Bình', :e, 'active', :t, "
                ":now)"
            ),
            {"e": EMAIL, "t": datetime(2024, 5, 1), "now": stamp()},
        )
    engine.dispose()


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dramatiq",
            "workers.actors",
            "--processes",
            "1",
            "--threads",
            "2",
            "--skip-logging",
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_mid_task_then_new_worker_completes_once(
    tmp_path: Path, postgres_url: str, smtp: MailSink
) -> None:
    """dramatiq re-delivers the dead worker's message; the request completes with one reply."""
    redis_url = services.redis_url_or_skip()
    _slow_crm(postgres_url)
    connectors_file = tmp_path / "connectors.yaml"
    connectors_file.write_text(CONNECTORS.format(url=postgres_url))
    env = dict(
        os.environ,
        DSR_DATABASE_URL=postgres_url,
        DSR_REDIS_URL=redis_url,
        DSR_CONNECTORS_FILE=str(connectors_file),
        DSR_SMTP_PORT=str(smtp.port),
        DSR_SMTP_HOST="127.0.0.1",
        DSR_EXPORT_DIR=str(tmp_path / "exports"),
        DSR_VAR_DIR=str(tmp_path / "var"),
        DSR_BROKER_HEARTBEAT_TIMEOUT_MS="2000",
        DSR_BROKER_MAINTENANCE_CHANCE="1000000",
        DSR_TASK_LEASE_SECONDS="1",
    )
    settings = Settings(
        database_url=postgres_url,
        redis_url=redis_url,
        connectors_file=connectors_file,
        smtp_port=smtp.port,
        export_dir=tmp_path / "exports",
        var_dir=tmp_path / "var",
    )
    rt = Runtime(settings)
    migrate(rt.db_url)
    from workers.actors import enqueue
    from workers.broker import broker

    broker.flush_all()
    first = _start_worker(env)
    second = None
    try:
        with session_scope(rt.db_url) as session:
            request, follow = filing.submit(
                session,
                rt,
                filing.validate(rt, filing.Submission("access", EMAIL, verified=True, by="t")),
            )
        enqueue(follow)
        until(lambda: _task_status(rt, request.id) == "running")
        time.sleep(0.5)
        os.killpg(first.pid, signal.SIGKILL)  # parent and its worker process, mid-lookup
        first.wait()
        assert _task_status(rt, request.id) == "running"
        second = _start_worker(env)
        until(lambda: request_status(rt, request.id) == "completed", timeout=90)
        broker.join("dsr", timeout=60_000)  # every message, a stray duplicate too, has run
        replies = [m for m in smtp.to(EMAIL) if m["Message-ID"].startswith(f"<{request.id}.reply@")]
        assert len(replies) == 1
        with Session(get_engine(rt.db_url)) as session:
            task = session.exec(
                select(ConnectorTask).where(ConnectorTask.request_id == request.id)
            ).one()
        assert task.status == "done" and task.records == 1 and task.attempts == 2
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
        broker.flush_all()
        rt.close()


def _task_status(rt: Runtime, request_id: str) -> str | None:
    with Session(get_engine(rt.db_url)) as session:
        task = session.exec(
            select(ConnectorTask).where(ConnectorTask.request_id == request_id)
        ).first()
        return task.status if task else None
