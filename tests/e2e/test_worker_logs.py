"""`dsr worker` as a real process: it completes requests and its logs carry no personal data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import Session

from demo.seed import DEMO_SUBJECT, seed
from demo.smtp_sink import MailSink
from dsr.core.intake import filing
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ledger.models import Request
from dsr.core.runtime.process import Runtime
from tests import services
from tests.e2e.conftest import make_settings


def test_worker_process_logs_are_redacted(
    tmp_path: Path, postgres_url: str, smtp: MailSink
) -> None:
    """A full access request through `dsr worker` at DEBUG leaves no e-mail or phone in its logs."""
    redis_url = services.redis_url_or_skip()
    settings = make_settings(tmp_path, postgres_url, smtp.port, redis_url=redis_url)
    seed(settings.resolved_data_dir, 20, secret_key=settings.keys.suppression, reset=True)
    rt = Runtime(settings)
    migrate(rt.db_url)
    log_file = tmp_path / "worker.log"
    env = dict(
        os.environ,
        DSR_DATABASE_URL=postgres_url,
        DSR_REDIS_URL=redis_url,
        DSR_SMTP_PORT=str(smtp.port),
        DSR_DATA_DIR=str(settings.resolved_data_dir),
        DSR_EXPORT_DIR=str(settings.resolved_export_dir),
        DSR_LOG_LEVEL="DEBUG",
        DSR_LOG_FORMAT="json",
        DSR_VAR_DIR=str(tmp_path / "var"),
    )
    from workers import runtime
    from workers.actors import enqueue
    from workers.broker import broker

    runtime.set_runtime(rt)  # what this process sends carries this ledger's id
    broker.flush_all()
    with log_file.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "dsr", "worker", "--processes", "1", "--threads", "2"],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        try:
            with session_scope(rt.db_url) as session:
                request, follow = filing.submit(
                    session,
                    rt,
                    filing.validate(
                        rt,
                        filing.Submission(
                            "access",
                            DEMO_SUBJECT["email"],
                            phone=DEMO_SUBJECT["phone"],
                            name=DEMO_SUBJECT["name"],
                            verified=True,
                            by="t",
                        ),
                    ),
                )
            enqueue(follow)
            end = time.monotonic() + 60
            while time.monotonic() < end:
                with Session(get_engine(rt.db_url)) as session:
                    if session.get(Request, request.id).status == "completed":  # type: ignore[union-attr]
                        break
                time.sleep(0.1)
            else:
                raise AssertionError("request did not complete")
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
            broker.flush_all()
            runtime.set_runtime(None)
            rt.close()
    logs = log_file.read_text()
    task_ids = [s.id for s in follow if s.actor == "run_task"]
    assert task_ids and all(t in logs for t in task_ids)  # the worker logged its work, with ids
    for secret in (DEMO_SUBJECT["email"], "912345678", "912 345 678", "0912 345", "nguyen.van.an"):
        assert secret not in logs, secret
