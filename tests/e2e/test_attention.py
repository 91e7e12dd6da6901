"""A store that stays unreachable: retries, needs_attention, an ops alert, no reply; then retry."""

from __future__ import annotations

import time
from pathlib import Path

import dramatiq
import sqlalchemy as sa

from demo.smtp_sink import MailSink, free_port
from demo.stores import create_store, stamp
from dsr.core.intake import filing
from dsr.core.ledger.db import migrate, session_scope
from dsr.core.pipeline import tasks
from dsr.core.runtime.process import Runtime
from tests import services
from tests.e2e.conftest import make_settings, request_status, until

EMAIL = "le.van.cuong@example.com"
CONFIG = """
connectors:
  - name: billing
    kind: sql
    url: "{url}"
    labels: {{vi: "Thanh toán", en: "Billing"}}
    tables:
      - name: customers
        key: id
        match: {{email: email}}
        erase: {{mode: delete}}
"""


def _runtime(tmp_path: Path, db_url: str, store_url: str, smtp_port: int) -> Runtime:
    cfg = tmp_path / f"connectors-{time.monotonic_ns()}.yaml"
    cfg.write_text(CONFIG.format(url=store_url))
    return Runtime(
        make_settings(tmp_path, db_url, smtp_port, connectors_file=cfg, task_max_retries=2)
    )


def test_unreachable_store_needs_attention_then_retry_completes(
    tmp_path: Path, postgres_url: str, smtp: MailSink
) -> None:
    """Retries run out: ops are alerted, the subject gets no reply; `retry` then completes it."""
    services.redis_url_or_skip()
    from workers import runtime
    from workers.actors import enqueue
    from workers.broker import broker

    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test?connect_timeout=1"
    rt = _runtime(tmp_path, postgres_url, dead, smtp.port)
    migrate(rt.db_url)
    runtime.set_runtime(rt)
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        with session_scope(rt.db_url) as session:
            request, follow = filing.submit(
                session,
                rt,
                filing.validate(rt, filing.Submission("erase", EMAIL, verified=True, by="t")),
            )
        enqueue(follow)
        until(lambda: request_status(rt, request.id) == "needs_attention")
        alert = until(
            lambda: [
                m for m in smtp.to(rt.settings.ops_email) if "connector_failed" in m["Message-ID"]
            ]
        )
        assert request.id[:8] in alert[0]["Subject"]
        assert EMAIL not in alert[0].as_string()
        assert not [m for m in smtp.to(EMAIL) if ".reply@" in m["Message-ID"]]

        # Ops bring the store back (here: point the connector at a live database) and retry.
        live = sa.create_engine(postgres_url)
        create_store(live, "crm")
        with live.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO customers (customer_id, full_name, email, status, "
                    "created_at, updated_at) VALUES ('KH7', 'Lê Văn Cường', :e, 'active', "
                    ":now, :now)"
                ),
                {"e": EMAIL, "now": stamp()},
            )
        fixed = _runtime(tmp_path, postgres_url, postgres_url, smtp.port)
        runtime.set_runtime(fixed)
        with session_scope(fixed.db_url) as session:
            enqueue(tasks.retry(session, fixed, request.id, by="ops"))
        until(lambda: request_status(rt, request.id) == "completed")
        replies = [m for m in smtp.to(EMAIL) if ".reply@" in m["Message-ID"]]
        assert len(replies) == 1
        with live.connect() as conn:
            assert conn.execute(sa.text("select count(*) from customers")).scalar() == 0
        live.dispose()
        fixed.close()
    finally:
        worker.stop()
        broker.flush_all()
        runtime.set_runtime(None)
        rt.close()
